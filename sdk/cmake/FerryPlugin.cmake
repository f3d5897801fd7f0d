# ferry_add_plugin(<name> <sources>...)
# Builds a connector plugin: a MODULE library named <name>.so that links only the SDK,
# refuses unresolved symbols at link time, and lands in the plugin directory.
function(ferry_add_plugin name)
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE ferry::sdk)
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
  set_target_properties(${name} PROPERTIES PREFIX "" CXX_VISIBILITY_PRESET hidden
                                           VISIBILITY_INLINES_HIDDEN ON)
  if(DEFINED FERRY_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${FERRY_PLUGIN_OUTPUT_DIR})
  endif()
  if(DEFINED FERRY_INSTALL_PLUGINDIR)
    install(TARGETS ${name} LIBRARY DESTINATION ${FERRY_INSTALL_PLUGINDIR})
  endif()
endfunction()
