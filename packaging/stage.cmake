# CPack pre-build script (CPACK_PRE_BUILD_SCRIPTS, packaging/package.cmake):
# runs in the staging folder after `cmake --install` put the files there and
# before the .deb is made, and turns the installation into what Debian
# expects of a package.
set(stage "${CPACK_TEMPORARY_DIRECTORY}${CPACK_PACKAGING_INSTALL_PREFIX}")
if(NOT IS_DIRECTORY "${stage}")
  message(FATAL_ERROR "stage.cmake: no staging folder ${stage}")
endif()
# Set by package.cmake; an older CPackConfig.cmake lacks them (run cmake).
foreach(var BUILD_BINDIR BUILD_DOCDIR BINDIR DOCDIR MANDIR)
  if(NOT CPACK_SIPAS_${var})
    message(FATAL_ERROR "stage.cmake: CPACK_SIPAS_${var} is not set")
  endif()
endforeach()

# The man pages are kept and installed as roff; Debian ships them gzipped
# with the maximum compression and no name or time stamp (gzip -9n), which
# also keeps the package reproducible.
file(GLOB pages "${stage}/${CPACK_SIPAS_MANDIR}/man*/*.[0-9]")
foreach(page ${pages})
  execute_process(COMMAND gzip -9nf "${page}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "stage.cmake: gzip ${page} failed: ${rc}")
  endif()
endforeach()

# systemd/CMakeLists.txt writes the programs' and the documentation's
# absolute paths into the units when the build is configured, i.e. for the
# build's CMAKE_INSTALL_PREFIX (/usr/local by default). The package puts
# everything under CPACK_PACKAGING_INSTALL_PREFIX, so the units must name
# that: ExecStart= of /usr/local/bin/sipas-worker would not exist.
set(pkg "${CPACK_PACKAGING_INSTALL_PREFIX}")
file(GLOB units "${stage}/lib/systemd/system/sipas*")
foreach(unit ${units})
  file(READ "${unit}" text)
  string(REPLACE "${CPACK_SIPAS_BUILD_BINDIR}/sipas-"
         "${pkg}/${CPACK_SIPAS_BINDIR}/sipas-" text "${text}")
  string(REPLACE "${CPACK_SIPAS_BUILD_DOCDIR}/"
         "${pkg}/${CPACK_SIPAS_DOCDIR}/" text "${text}")
  file(WRITE "${unit}" "${text}")
endforeach()
