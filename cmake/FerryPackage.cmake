# The Debian package: `cpack --config build/dev/CPackConfig.cmake` (or `cpack` in the build
# directory) writes ferry_<version>_<arch>.deb with the binary, the plugins, the sandboxes, the
# SDK (headers + CMake package), the seed flows, and, for a service install only, a systemd
# unit, /etc/ferry/ferry.yaml and /etc/ferry/ferry.env (conffiles) and the maintainer scripts
# that create the `ferry` system user (packaging/). docs/deploy.md describes the result.
#
# The files below /etc and /lib/systemd are in the component `service`, which a plain
# `cmake --install` leaves out (EXCLUDE_FROM_ALL): installing into a prefix never writes /etc.

set(FERRY_PACKAGING_DIR ${CMAKE_SOURCE_DIR}/packaging)

# The SQLite -> PostgreSQL store copy (docs/deploy.md), beside the sandboxes.
install(PROGRAMS ${FERRY_PACKAGING_DIR}/ferry-store-to-postgres
        DESTINATION ${FERRY_INSTALL_LIBEXECDIR})

install(FILES ${FERRY_PACKAGING_DIR}/ferry.service DESTINATION /lib/systemd/system
        COMPONENT service EXCLUDE_FROM_ALL)
install(FILES ${FERRY_PACKAGING_DIR}/ferry.yaml DESTINATION /etc/ferry
        COMPONENT service EXCLUDE_FROM_ALL)
install(FILES ${FERRY_PACKAGING_DIR}/ferry.env DESTINATION /etc/ferry
        PERMISSIONS OWNER_READ OWNER_WRITE COMPONENT service EXCLUDE_FROM_ALL)
install(FILES ${CMAKE_SOURCE_DIR}/docs/deploy.md ${CMAKE_SOURCE_DIR}/docs/config.md
              ${CMAKE_SOURCE_DIR}/docs/store.md ${CMAKE_SOURCE_DIR}/docs/flow-format.md
              ${CMAKE_SOURCE_DIR}/docs/mapping-language.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT service EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ferry)
set(CPACK_PACKAGE_VENDOR "ferry")
set(CPACK_PACKAGE_CONTACT "ferry maintainers <ferry@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "connector runtime syncing Umsatz-io and HighLevel (GHL)")
set(CPACK_PACKAGE_DESCRIPTION
    "ferry runs declarative flows between connector plugins: a webhook server, pollers and
workers with a durable store (SQLite or PostgreSQL), retries, rate budgets and dead letters.
The package has the ferry binary, the GHL and Umsatz-io plugins and their local sandboxes,
the plugin SDK, the seed flows and a hardened systemd service running as the ferry user.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
# One package: the default install plus the `service` component.
set(CPACK_DEB_COMPONENT_INSTALL OFF)
set(CPACK_INSTALL_CMAKE_PROJECTS
    "${CMAKE_BINARY_DIR};${PROJECT_NAME};ALL;/" "${CMAKE_BINARY_DIR};${PROJECT_NAME};service;/")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The shared libraries' packages come from dpkg-shlibdeps; the maintainer scripts need adduser,
# the unit's ExecReload /bin/kill (procps).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, procps")
# Building a plugin against the installed SDK; backups and the PostgreSQL move; TLS in front.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
    "cmake, g++, libboost-dev, nlohmann-json3-dev, sqlite3, postgresql-client, nginx")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${FERRY_PACKAGING_DIR}/debian/conffiles ${FERRY_PACKAGING_DIR}/debian/postinst
    ${FERRY_PACKAGING_DIR}/debian/prerm ${FERRY_PACKAGING_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
