// The one translation unit that compiles Boost.JSON (header-only mode), so no separate
// libboost-json package or ABI is involved.
#include <boost/json/src.hpp>
