# shoal_module(<name> SOURCES <files...> DEPENDS <modules...> [THIRD_PARTY <targets...>])
# One static library per module. DEPENDS is the module's contract: tests/tidy_test.cc
# rejects any #include of a module that is not listed here.
function(shoal_module name)
    cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS;THIRD_PARTY;PUBLIC_THIRD_PARTY" ${ARGN})
    add_library(shoal_${name} STATIC ${ARG_SOURCES})
    target_include_directories(shoal_${name}
        PUBLIC ${PROJECT_SOURCE_DIR}/include
        PRIVATE ${PROJECT_SOURCE_DIR}/src)
    list(TRANSFORM ARG_DEPENDS PREPEND shoal_)
    target_link_libraries(shoal_${name}
        PUBLIC ${ARG_DEPENDS} ${ARG_PUBLIC_THIRD_PARTY}
        PRIVATE ${ARG_THIRD_PARTY} shoal_warnings)
endfunction()

# A module that is only an interface (headers, no code).
function(shoal_interface_module name)
    cmake_parse_arguments(ARG "" "" "DEPENDS" ${ARGN})
    add_library(shoal_${name} INTERFACE)
    target_include_directories(shoal_${name} INTERFACE ${PROJECT_SOURCE_DIR}/include)
    list(TRANSFORM ARG_DEPENDS PREPEND shoal_)
    target_link_libraries(shoal_${name} INTERFACE ${ARG_DEPENDS})
endfunction()
