# The Debian package of sipas (packaging/README.md):
#     cpack --config BUILD/CPackConfig.cmake
# builds sipas_VERSION-1_ARCH.deb from what `cmake --install` installs,
# under /usr whatever the build's CMAKE_INSTALL_PREFIX, with the maintainer
# scripts of packaging/debian/. Included at the end of the top-level
# CMakeLists.txt, after every install() rule.

set(SIPAS_PACKAGE_MAINTAINER "sipas maintainers <sipas@localhost>"
    CACHE STRING "Maintainer field of the Debian package (Name <email>)")

# Debian wants a copyright file in every package's documentation folder.
install(FILES ${CMAKE_CURRENT_LIST_DIR}/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sipas)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "sipas")
set(CPACK_PACKAGE_CONTACT "${SIPAS_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "citizen-satisfaction survey ingestion (SIPAS indices) into LMDB")
# The long description: CPack puts the summary above it and indents it.
set(CPACK_PACKAGE_DESCRIPTION
"sipas ingests citizen-satisfaction survey responses and keeps the SIPAS
indices current, as a set of small daemons over ZeroMQ and LMDB.

The package holds the daemons sipas-collector (one systemd instance per
source; spools to disk when no worker is up) and sipas-worker (validates
and counts in group commits, acknowledging each response only after the
commit holding it was fsync'd), the client sipas-submit, and the tools
sipas-admin and sipas-snapshot. The systemd units are installed but
neither enabled nor started.")

set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SIPAS_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The Debian revision: 0.1.0-1.
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# dpkg-shlibdeps (dpkg-dev) finds the shared libraries the programs link
# (libzmq5, liblmdb0, libmsgpackc2, libjansson4, libsystemd0, libinih1,
# libxxhash0, libc6) and appends them to the Depends below. The postinst
# creates the user sipas with systemd-sysusers (package systemd) or, without
# it, with adduser.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser | systemd")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")

set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA)
foreach(script postinst prerm postrm)
  list(APPEND CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
       ${CMAKE_CURRENT_LIST_DIR}/debian/${script})
endforeach()
# 0755 for the scripts, 0644 for the rest, whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Run in the staging folder before the archive is made: gzips the man
# pages and points the units at /usr (packaging/stage.cmake).
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_CURRENT_LIST_DIR}/stage.cmake)
# What it needs from the build (CPack passes on only CPACK_* variables).
set(CPACK_SIPAS_BUILD_BINDIR "${CMAKE_INSTALL_FULL_BINDIR}")
set(CPACK_SIPAS_BUILD_DOCDIR "${CMAKE_INSTALL_FULL_DOCDIR}")
set(CPACK_SIPAS_BINDIR "${CMAKE_INSTALL_BINDIR}")
set(CPACK_SIPAS_DOCDIR "${CMAKE_INSTALL_DOCDIR}")
set(CPACK_SIPAS_MANDIR "${CMAKE_INSTALL_MANDIR}")

# `cpack --config BUILD/CPackSourceConfig.cmake`: the source tree as a
# tarball, without build folders and version control.
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/build[^/]*/" "/\\\\.git/" "__pycache__")

include(CPack)
