// The one translation unit that compiles Boost.JSON's implementation (see CMakeLists.txt).
#include <boost/json/src.hpp>
