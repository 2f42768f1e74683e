# Stand-in for ROS 2's ament_cmake (see ../README.md): ament_package() installs package.xml and
# registers the package in the ament resource index, as the real one does; nothing else.
macro(ament_package)
  install(FILES "${CMAKE_CURRENT_SOURCE_DIR}/package.xml" DESTINATION "share/${PROJECT_NAME}")
  file(WRITE "${CMAKE_CURRENT_BINARY_DIR}/ament_index_marker" "")
  install(
    FILES "${CMAKE_CURRENT_BINARY_DIR}/ament_index_marker"
    DESTINATION "share/ament_index/resource_index/packages"
    RENAME "${PROJECT_NAME}"
  )
endmacro()
