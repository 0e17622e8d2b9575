// lens/version.hpp: the library's version. CMakeLists.txt reads the project
// version from these lines, so the header and the package agree.
#pragma once

#define LENS_VERSION_MAJOR 0
#define LENS_VERSION_MINOR 1
#define LENS_VERSION_PATCH 0
/// MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons.
#define LENS_VERSION (LENS_VERSION_MAJOR * 10000 + LENS_VERSION_MINOR * 100 + LENS_VERSION_PATCH)
#define LENS_VERSION_STRING "0.1.0"
