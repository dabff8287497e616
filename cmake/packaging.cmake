# Debian packages with CPack from this (already built) tree: scripts/package runs cpack here.
# mccache-mcproxy, mccache-invalidator and python3-mccache, one per install component
# (cmake/install.cmake). dpkg-shlibdeps derives the daemons' Depends; docs/install.md has why
# CPack rather than debian/ + dpkg-buildpackage.
set(MCCACHE_PACKAGE_MAINTAINER "mccache maintainers <maintainers@mccache.example>"
    CACHE STRING "Maintainer: field of the Debian packages")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mccache)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${MCCACHE_PACKAGE_MAINTAINER})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
# Install with DESTDIR, so /etc/mccache and /lib/systemd/system land in the package as such.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
set(CPACK_COMPONENTS_ALL mcproxy invalidator python)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${MCCACHE_PACKAGE_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# Maintainer scripts and conffiles of the two daemon packages, from one template each.
set(mccache_control ${CMAKE_BINARY_DIR}/packaging/control)
foreach(DAEMON mcproxy invalidator)
  set(PACKAGE mccache-${DAEMON})
  set(PURGE "")
  if(DAEMON STREQUAL invalidator)
    # The state directory (StateDirectory=mccache) holds source.state_file.
    set(PURGE "if [ \"$1\" = purge ]; then\n  rm -rf /var/lib/mccache\nfi\n")
  endif()
  foreach(script postinst prerm postrm)
    configure_file(${PROJECT_SOURCE_DIR}/cmake/packaging/${script}.in
                   ${mccache_control}/${DAEMON}/${script} @ONLY
                   FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
                                    GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  endforeach()
  file(WRITE ${mccache_control}/${DAEMON}/conffiles "/etc/mccache/${DAEMON}-dc1.json\n")
  string(TOUPPER ${DAEMON} C)
  set(CPACK_DEBIAN_${C}_PACKAGE_NAME ${PACKAGE})
  set(CPACK_DEBIAN_${C}_PACKAGE_DEPENDS "adduser")
  set(CPACK_DEBIAN_${C}_PACKAGE_CONTROL_EXTRA
      "${mccache_control}/${DAEMON}/conffiles;${mccache_control}/${DAEMON}/postinst;${mccache_control}/${DAEMON}/prerm;${mccache_control}/${DAEMON}/postrm")
endforeach()
set(CPACK_DEBIAN_MCPROXY_PACKAGE_SUGGESTS "memcached, python3-mccache")
set(CPACK_DEBIAN_MCPROXY_DESCRIPTION "memcached-protocol proxy with leases (mccache)
mcproxy speaks the memcached text protocol to applications, routes keys over a
datacenter's memcached pool with ketama consistent hashing, and adds
mcrouter-style lease-get and lease-set, so a stale set never lands and a hot
key's misses do not all reach the database. Lease state lives in memcached.
.
Ships the systemd template unit mcproxy@.service (one instance per
datacenter config in /etc/mccache); nothing is started on install.")
set(CPACK_DEBIAN_INVALIDATOR_PACKAGE_SUGGESTS "postgresql, memcached")
set(CPACK_DEBIAN_INVALIDATOR_DESCRIPTION "WAL-driven memcached invalidation for Postgres (mccache)
The invalidator tails the PostgreSQL WAL through logical replication
(pgoutput) and deletes the changed rows' keys from its datacenter's memcached
pool, after the datacenter's own replica has replayed the change.
.
Ships the systemd template unit invalidator@.service (one instance per
datacenter config in /etc/mccache); nothing is started on install.")

set(CPACK_DEBIAN_PYTHON_PACKAGE_NAME python3-mccache)
set(CPACK_DEBIAN_PYTHON_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_PYTHON_PACKAGE_SECTION python)
set(CPACK_DEBIAN_PYTHON_PACKAGE_DEPENDS "python3:any")
set(CPACK_DEBIAN_PYTHON_PACKAGE_RECOMMENDS "python3-django, python3-pymemcache")
set(CPACK_DEBIAN_PYTHON_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/cmake/packaging/python/postinst;${PROJECT_SOURCE_DIR}/cmake/packaging/python/prerm")
set(CPACK_DEBIAN_PYTHON_DESCRIPTION "lease-aware memcached client and Django cache backend (mccache)
A pure-Python client for mcproxy's lease-get and lease-set, and
mccache.django_cache.LeaseCache, a Django cache backend that adds
get_or_fill() under a lease to Django's PyMemcacheCache.")

include(CPack)
