# Installs the already built Trellis into a scratch prefix, then builds and
# runs a consumer project against it twice: with find_package(trellis), as
# another CMake project would, and with the compiler and pkg-config alone.
file(REMOVE_RECURSE "${WORK_DIR}")

# Runs a command; a failure ends the check, saying what was being done.
# Leaves the command's output in `out`.
function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

# The consumer prints "consumer: ok" once it used every library.
function(run_consumer what exe)
  step("${what}" "${exe}")
  if(NOT out MATCHES "consumer: ok")
    message(FATAL_ERROR "${what} did not report success:\n${out}")
  endif()
  message(STATUS "${what}: ${out}")
endfunction()

step("cmake --install" ${CMAKE_COMMAND} --install "${BUILD_DIR}"
     --prefix "${WORK_DIR}/prefix")

step("configuring the consumer" ${CMAKE_COMMAND}
     -S "${SOURCE_DIR}/tests/install/consumer" -B "${WORK_DIR}/build"
     -G "${GENERATOR}" "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix")
step("building the consumer" ${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run_consumer("the CMake consumer" "${WORK_DIR}/build/consumer")

# From another place: the pkg-config files find the prefix from where they lie.
file(RENAME "${WORK_DIR}/prefix" "${WORK_DIR}/moved")
file(GLOB_RECURSE pc_files "${WORK_DIR}/moved/*/trellis.pc")
if(NOT pc_files)
  message(FATAL_ERROR "no trellis.pc was installed")
endif()
list(GET pc_files 0 pc_file)
get_filename_component(pc_dir "${pc_file}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
step("pkg-config" pkg-config --cflags --libs trellis-observer
     trellis-distribution trellis-actors trellis)
separate_arguments(flags UNIX_COMMAND "${out}")
step("building the consumer with pkg-config" ${CXX} -std=c++17
     "${SOURCE_DIR}/tests/install/consumer/main.cpp"
     -o "${WORK_DIR}/pkgconfig-consumer" ${flags})
run_consumer("the pkg-config consumer" "${WORK_DIR}/pkgconfig-consumer")
