# pkg-config files for projects not on CMake: one per library, named as its
# CMake target is (trellis = trellis::framework, trellis-distribution, ...).
# The libraries are static archives, so what they link privately (spdlog,
# libdw, CAF's I/O and OpenSSL modules) is in Libs and Requires, not in the
# .private fields that only `pkg-config --static` reads.

# -lcaf_core etc., with -L for a CAF outside the compiler's own directories.
function(trellis_caf_libs out)
  set(flags "")
  foreach(comp IN LISTS ARGN)
    get_filename_component(dir "${CAF_${comp}_LIBRARY}" DIRECTORY)
    if(NOT dir IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES
       AND NOT "-L${dir}" IN_LIST flags)
      list(APPEND flags "-L${dir}")
    endif()
    list(APPEND flags "-lcaf_${comp}")
  endforeach()
  list(JOIN flags " " flags)
  set(${out} "${flags}" PARENT_SCOPE)
endfunction()

function(trellis_pkgconfig name library description requires libs)
  set(pc_name ${name})
  set(pc_library ${library})
  set(pc_description "${description}")
  set(pc_requires "${requires}")
  set(pc_libs "${libs}")
  set(pc_cflags "")
  if(NOT CAF_INCLUDE_DIR IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
    set(pc_cflags "-I${CAF_INCLUDE_DIR}")
  endif()
  # The prefix is the one `cmake --install --prefix` chose, found from where
  # the file lies (pcfiledir), so that an installed tree can move.
  file(RELATIVE_PATH up /root/${CMAKE_INSTALL_LIBDIR}/pkgconfig /root)
  string(REGEX REPLACE "/$" "" up "${up}")
  set(pc_prefix "\${pcfiledir}/${up}")
  if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(pc_prefix "${CMAKE_INSTALL_PREFIX}")
  endif()
  foreach(dir LIBDIR INCLUDEDIR)
    set(pc_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
    if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
      set(pc_${dir} "${CMAKE_INSTALL_${dir}}")
    endif()
  endforeach()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/trellis.pc.in
                 ${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endfunction()

trellis_caf_libs(caf_core core)
# dlsym (src/throw_trace.cpp): in libc since glibc 2.34, in libdl before.
set(trellis_dl_flag "")
if(CMAKE_DL_LIBS)
  set(trellis_dl_flag "-l${CMAKE_DL_LIBS}")
endif()
trellis_caf_libs(caf_io io openssl)
trellis_pkgconfig(trellis trellis_framework
  "Erlang/OTP supervision trees for the C++ Actor Framework"
  "spdlog libdw" "${caf_core} ${trellis_dl_flag} -pthread")
trellis_pkgconfig(trellis-distribution trellis_distribution
  "Trellis trees across processes (CAF's I/O module)"
  "trellis openssl" "${caf_io}")
trellis_pkgconfig(trellis-actors trellis_actors
  "Trellis' ready-made supervised actors" "trellis" "")
if(TARGET trellis_observer)
  trellis_pkgconfig(trellis-observer trellis_observer
    "Trellis' observer: a tree in a browser" "trellis cpp-httplib" "")
endif()
