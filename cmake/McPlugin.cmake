# mcc_add_plugin(NAME SOURCES... [LIBS libs...] [NOINSTALL])
# Builds one plugin as a MODULE with hidden visibility: only mcc_plugin_v1 is exported.
function(mcc_add_plugin name)
    cmake_parse_arguments(P "NOINSTALL" "" "LIBS" ${ARGN})
    add_library(${name} MODULE ${P_UNPARSED_ARGUMENTS})
    set_target_properties(${name} PROPERTIES
        PREFIX ""
        C_VISIBILITY_PRESET hidden
        LIBRARY_OUTPUT_DIRECTORY "${MCC_PLUGIN_BUILD_DIR}")
    target_link_libraries(${name} PRIVATE mcc_sdk ${P_LIBS})
    target_link_options(${name} PRIVATE -Wl,--no-undefined)
    add_dependencies(mcc_all_plugins ${name})
    if(NOT P_NOINSTALL)
        install(TARGETS ${name} LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}/mcc/plugins")
    endif()
endfunction()

# Adds every subfolder of the current folder that has a CMakeLists.txt.
function(mcc_add_subdirs)
    file(GLOB children RELATIVE "${CMAKE_CURRENT_SOURCE_DIR}" "${CMAKE_CURRENT_SOURCE_DIR}/*")
    list(SORT children)
    foreach(child ${children})
        if(IS_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}/${child}"
           AND EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/${child}/CMakeLists.txt")
            add_subdirectory(${child})
        endif()
    endforeach()
endfunction()
