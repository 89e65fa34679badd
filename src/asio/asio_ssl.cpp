// Boost.Asio's TLS implementation, compiled once for the whole build (see CMakeLists.txt).
#include <boost/asio/ssl/impl/src.hpp>
