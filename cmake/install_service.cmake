# Runs at install time for one daemon: its systemd unit (paths filled in for this prefix) and
# its config under <sysconfdir>/mccache. The prefix /usr means Debian's places: /etc and
# /lib/systemd/system; any other prefix keeps both under it.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(SYSCONFDIR /etc)
  set(unit_dir /lib/systemd/system)
else()
  set(SYSCONFDIR ${CMAKE_INSTALL_PREFIX}/etc)
  set(unit_dir ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
endif()
set(BINDIR ${CMAKE_INSTALL_PREFIX}/bin)

configure_file(${mccache_source_dir}/deploy/systemd/${mccache_daemon}@.service.in
               ${mccache_work_dir}/${mccache_daemon}@.service @ONLY)
file(INSTALL ${mccache_work_dir}/${mccache_daemon}@.service DESTINATION ${unit_dir}
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
# The example config as the config of an instance "dc1" (a conffile in the packages).
configure_file(${mccache_source_dir}/examples/config/dc1.json
               ${mccache_work_dir}/${mccache_daemon}-dc1.json COPYONLY)
file(INSTALL ${mccache_work_dir}/${mccache_daemon}-dc1.json DESTINATION ${SYSCONFDIR}/mccache
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
