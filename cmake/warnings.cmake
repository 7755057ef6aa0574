# The house warning set (STYLE.md 2.10) on one interface target every module links.
add_library(shoal_warnings INTERFACE)
target_compile_options(shoal_warnings INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast
    -Wnon-virtual-dtor -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
    -Wformat=2 -Wundef -Wmissing-declarations -Wzero-as-null-pointer-constant
    # GCC 12 warns when a designated initializer leaves out a member that has a default
    # member initializer; the house style relies on exactly that (STYLE.md 2.5).
    -Wno-missing-field-initializers)
if(SHOAL_WERROR)
    target_compile_options(shoal_warnings INTERFACE -Werror)
endif()
