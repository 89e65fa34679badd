// Boost.Asio's implementation, compiled once for the whole build (see CMakeLists.txt).
#include <boost/asio/impl/src.hpp>
