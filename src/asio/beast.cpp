// Boost.Beast's implementation, compiled once for the whole build (see CMakeLists.txt).
#include <boost/beast/src.hpp>
