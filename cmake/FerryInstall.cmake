# Installs what a third party needs to build a plugin out of tree, as the CMake package
# `ferry_sdk`:
#   find_package(ferry_sdk REQUIRED)   # gives ferry::sdk, ferry::sdk_testing, ferry_add_plugin()
# The ferry binary, the plugins and the sandboxes install themselves (core/, ferry_add_plugin,
# ferry_add_sandbox).
include(CMakePackageConfigHelpers)

set(FERRY_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/ferry_sdk)

set_target_properties(ferry_sdk PROPERTIES EXPORT_NAME sdk)
set_target_properties(ferry_sdk_testing PROPERTIES EXPORT_NAME sdk_testing)
install(TARGETS ferry_sdk ferry_sdk_testing EXPORT ferry_sdkTargets)
install(EXPORT ferry_sdkTargets NAMESPACE ferry:: FILE ferry_sdkTargets.cmake
        DESTINATION ${FERRY_INSTALL_CMAKEDIR})

install(DIRECTORY ${CMAKE_SOURCE_DIR}/sdk/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/sdk/testing/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ferry/sdk/testing FILES_MATCHING PATTERN "*.hpp")

configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/ferry_sdkConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/cmake/ferry_sdkConfig.cmake
                              INSTALL_DESTINATION ${FERRY_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/ferry_sdkConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/ferry_sdkConfig.cmake
              ${CMAKE_BINARY_DIR}/cmake/ferry_sdkConfigVersion.cmake
              ${CMAKE_SOURCE_DIR}/sdk/cmake/FerryPlugin.cmake
        DESTINATION ${FERRY_INSTALL_CMAKEDIR})

# The installed ferry looks for plugins in <prefix>/lib/ferry/plugins and, when the libdir is
# another one (a multiarch /usr install), in <prefix>/<libdir>/ferry/plugins too.
target_compile_definitions(ferry_core PRIVATE FERRY_INSTALL_PLUGINDIR="${FERRY_INSTALL_PLUGINDIR}")
