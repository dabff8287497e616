# The install layout (cmake --install; CPack packages the same rules, one component per package):
# bin/, man pages, example configs, the systemd units and /etc/mccache configs, the Python client.
include(GNUInstallDirs)
# Installing (and cpack) takes the tree as built: scripts/package builds only what it packages.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

install(TARGETS mcproxy RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT mcproxy)
install(TARGETS invalidator RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT invalidator)
install(FILES ${PROJECT_SOURCE_DIR}/examples/config/dc1.json
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/mccache/examples COMPONENT mcproxy)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/python/mccache
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/python3/dist-packages COMPONENT python
        FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)

# Man pages: docs/man/*.8.scd → roff (scdoc) → gzip -9n, at build time.
find_program(MCCACHE_SCDOC scdoc)
set(mccache_man_dir ${CMAKE_BINARY_DIR}/man)
if(MCCACHE_SCDOC)
  set(pages)
  foreach(daemon mcproxy invalidator)
    configure_file(${PROJECT_SOURCE_DIR}/docs/man/${daemon}.8.scd ${mccache_man_dir}/${daemon}.8.scd
                   @ONLY)
    add_custom_command(
      OUTPUT ${mccache_man_dir}/${daemon}.8.gz
      COMMAND sh -c "${MCCACHE_SCDOC} < ${daemon}.8.scd > ${daemon}.8 && gzip -9nf ${daemon}.8"
      WORKING_DIRECTORY ${mccache_man_dir}
      DEPENDS ${mccache_man_dir}/${daemon}.8.scd
      COMMENT "man page ${daemon}(8)" VERBATIM)
    list(APPEND pages ${mccache_man_dir}/${daemon}.8.gz)
    install(FILES ${mccache_man_dir}/${daemon}.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8
            COMPONENT ${daemon})
  endforeach()
  add_custom_target(mccache_man ALL DEPENDS ${pages})
else()
  message(WARNING "scdoc not found: man pages are not built or installed (apt install scdoc)")
  add_custom_target(mccache_man)
endif()

# Each package's /usr/share/doc/<package>/: copyright and the Debian changelog (gzip -9n).
set(mccache_packages mcproxy:mccache-mcproxy invalidator:mccache-invalidator python:python3-mccache)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/packaging/changelog.gz
  COMMAND gzip -9nc ${PROJECT_SOURCE_DIR}/cmake/packaging/changelog > changelog.gz
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/packaging
  DEPENDS ${PROJECT_SOURCE_DIR}/cmake/packaging/changelog VERBATIM)
add_custom_target(mccache_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/packaging/changelog.gz)
foreach(pair ${mccache_packages})
  string(REPLACE ":" ";" pair ${pair})
  list(GET pair 0 component)
  list(GET pair 1 package)
  install(FILES ${PROJECT_SOURCE_DIR}/cmake/packaging/copyright
                ${CMAKE_BINARY_DIR}/packaging/changelog.gz
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package} COMPONENT ${component})
endforeach()

# /etc and the unit directory follow the prefix installed into, known only at install time
# (cpack installs into /usr whatever prefix this tree was configured with).
foreach(daemon mcproxy invalidator)
  install(CODE "set(mccache_daemon ${daemon})
                set(mccache_source_dir \"${PROJECT_SOURCE_DIR}\")
                set(mccache_work_dir \"${CMAKE_BINARY_DIR}/packaging/\${CMAKE_INSTALL_PREFIX}\")
                include(\"${PROJECT_SOURCE_DIR}/cmake/install_service.cmake\")"
          COMPONENT ${daemon})
endforeach()

# Resolve every symbol at start-up so the GOT can be read-only (full RELRO, as Debian builds).
foreach(daemon mcproxy invalidator)
  target_link_options(${daemon} PRIVATE -Wl,-z,relro -Wl,-z,now)
endforeach()
