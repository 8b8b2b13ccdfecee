# Install rules that live at top level: the exported target set, the CMake
# package (ringsideConfig.cmake + version file) and ringside.pc.
# src/CMakeLists.txt installs the targets themselves into EXPORT ringsideTargets.
include_guard(GLOBAL)

if(NOT TARGET ringside_core OR NOT TARGET ringside_core_static)
  message(WARNING "ringside_core / ringside_core_static not defined by src/: no install rules")
  return()
endif()

# Installed names are ringside::core and ringside::core_static, like the aliases.
foreach(_rs_tgt IN ITEMS core core_static)
  get_target_property(_rs_export_name ringside_${_rs_tgt} EXPORT_NAME)
  if(NOT _rs_export_name)
    set_target_properties(ringside_${_rs_tgt} PROPERTIES EXPORT_NAME ${_rs_tgt})
  endif()
endforeach()

set(RINGSIDE_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/ringside")
install(EXPORT ringsideTargets
        NAMESPACE ringside::
        FILE ringsideTargets.cmake
        DESTINATION "${RINGSIDE_CMAKE_DIR}"
        COMPONENT ringside_dev)

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/ringsideConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/ringsideConfig.cmake"
  INSTALL_DESTINATION "${RINGSIDE_CMAKE_DIR}")
# 0.x: a minor bump may break the API, so only the same major.minor is compatible.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/ringsideConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/ringsideConfig.cmake"
              "${PROJECT_BINARY_DIR}/ringsideConfigVersion.cmake"
        DESTINATION "${RINGSIDE_CMAKE_DIR}"
        COMPONENT ringside_dev)

# pkg-config: prefix is found relative to the .pc file, so the install can move.
file(RELATIVE_PATH RINGSIDE_PC_TO_PREFIX
     "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/$" "" RINGSIDE_PC_TO_PREFIX "${RINGSIDE_PC_TO_PREFIX}")
configure_file("${PROJECT_SOURCE_DIR}/cmake/ringside.pc.in"
               "${PROJECT_BINARY_DIR}/ringside.pc.configured" @ONLY)
file(GENERATE OUTPUT "${PROJECT_BINARY_DIR}/ringside.pc"
     INPUT "${PROJECT_BINARY_DIR}/ringside.pc.configured")
install(FILES "${PROJECT_BINARY_DIR}/ringside.pc"
        DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
        COMPONENT ringside_dev)
