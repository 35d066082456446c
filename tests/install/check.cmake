# Installs the already built Trellis into a scratch prefix, then configures,
# builds and runs a consumer project that uses find_package(trellis).
file(REMOVE_RECURSE "${WORK_DIR}")
execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD_DIR}"
                        --prefix "${WORK_DIR}/prefix"
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/install/consumer"
                        -B "${WORK_DIR}/build" -G "${GENERATOR}"
                        "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the consumer failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build "${WORK_DIR}/build"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the consumer failed: ${rc}")
endif()
execute_process(COMMAND "${WORK_DIR}/build/consumer"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0 OR NOT out MATCHES "consumer: ok")
  message(FATAL_ERROR "the consumer failed: ${rc} ${out}")
endif()
message(STATUS "${out}")

# The same consumer without CMake: a compiler and the pkg-config files.
file(GLOB_RECURSE pc_files "${WORK_DIR}/prefix/*/trellis.pc")
if(NOT pc_files)
  message(FATAL_ERROR "no trellis.pc was installed")
endif()
list(GET pc_files 0 pc_file)
get_filename_component(pc_dir "${pc_file}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
execute_process(COMMAND pkg-config --cflags --libs trellis-observer
                        trellis-distribution trellis-actors trellis
                RESULT_VARIABLE rc OUTPUT_VARIABLE flags
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config found no trellis: ${rc}")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
execute_process(COMMAND ${CXX} -std=c++17
                        "${SOURCE_DIR}/tests/install/consumer/main.cpp"
                        -o "${WORK_DIR}/pkgconfig-consumer" ${flags}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the consumer with pkg-config failed: ${rc}")
endif()
execute_process(COMMAND "${WORK_DIR}/pkgconfig-consumer"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0 OR NOT out MATCHES "consumer: ok")
  message(FATAL_ERROR "the pkg-config consumer failed: ${rc} ${out}")
endif()
message(STATUS "pkg-config: ${out}")
