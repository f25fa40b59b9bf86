# kernlet_grpc: gRPC C++ (the unsecure flavour) and protobuf, linked statically, for every
# kernlet target that speaks gRPC (csi/proto, agent/prober). Included by those
# directories; include_guard so the target is defined once.
#
# Why static: the node agent's idle RSS (issue 5, budget 25 MB). Linked against Debian's
# shared libgrpc_unsecure, libgrpc++_unsecure, libprotobuf and 45 libabsl_*, the agent
# mapped 7 MB of them at start: ld.so reads every library's symbol tables and relocations
# (-z now resolves all of them at load), and each library's code, read-only data and
# relocated pages are touched in 64 KB fault-around windows. From the .a archives only the
# objects kernlet reaches are linked, with no dynamic symbol lookups or per-library pages:
# idle agent RSS 27.9 → 22.5 MB (docs/benchmarks.md, issue 5). Unsecure: kernlet's gRPC
# peers are CSI unix sockets and plain-text gRPC probes; and one binary must never carry
# both flavours (or a static and a shared copy: two sets of gRPC globals).
include_guard(GLOBAL)

pkg_check_modules(KERNLET_GRPC_PC REQUIRED grpc++_unsecure protobuf)

# pkg-config --static gives the archives in dependency order; Debian's grpc_unsecure.pc
# leaves libupb, libaddress_sorting, c-ares and re2 out of Libs.private, so they are named
# here. libz and librt stay as the system provides them (libz is shared with libarchive
# anyway); libatomic is left out: on x86-64 nothing in these archives calls it (the .pc
# adds it --as-needed), and a link that needed it would fail, not misbehave.
set(_kernlet_grpc_archives)
set(_kernlet_grpc_system)
foreach(name IN LISTS KERNLET_GRPC_PC_STATIC_LIBRARIES ITEMS upb address_sorting cares re2)
  if(name IN_LIST _kernlet_grpc_archives OR name IN_LIST _kernlet_grpc_system)
    continue()
  endif()
  if(name STREQUAL "atomic")
    continue()
  endif()
  if(name MATCHES "^(z|rt|m|dl|pthread)$")
    list(APPEND _kernlet_grpc_system ${name})
    continue()
  endif()
  find_library(KERNLET_GRPC_A_${name} NAMES lib${name}.a REQUIRED
    HINTS ${KERNLET_GRPC_PC_STATIC_LIBRARY_DIRS})
  list(APPEND _kernlet_grpc_archives ${name})
  list(APPEND _kernlet_grpc_paths ${KERNLET_GRPC_A_${name}})
endforeach()

add_library(kernlet_grpc INTERFACE)
target_include_directories(kernlet_grpc SYSTEM INTERFACE ${KERNLET_GRPC_PC_INCLUDE_DIRS})
target_compile_options(kernlet_grpc INTERFACE ${KERNLET_GRPC_PC_CFLAGS_OTHER})
# RESCAN (--start-group/--end-group): the archives reference each other in cycles
# (absl's, gpr ↔ grpc).
target_link_libraries(kernlet_grpc INTERFACE
  "$<LINK_GROUP:RESCAN,${_kernlet_grpc_paths}>" ${_kernlet_grpc_system} Threads::Threads)
