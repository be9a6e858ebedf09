# Shared part of the cross toolchain files (arm64.cmake, armhf.cmake): Debian's cross compiler
# for VW_CROSS_TRIPLET and the target's libraries from Debian multiarch, nothing of the build
# machine's. packaging/cross/prepare ARCH installs both.
set(CMAKE_SYSTEM_NAME Linux)
if(NOT DEFINED CMAKE_SYSTEM_PROCESSOR) # debhelper passes its own
  set(CMAKE_SYSTEM_PROCESSOR ${VW_CROSS_PROCESSOR})
endif()
set(CMAKE_C_COMPILER ${VW_CROSS_TRIPLET}-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE ${VW_CROSS_TRIPLET})

# pkg-config reads the target's multiarch directories only; PKG_CONFIG_PATH comes first, which is
# where packaging/cross/prepare puts the one -dev package that multiarch cannot install beside the
# build machine's (libwebsockets-dev: see there).
set(PKG_CONFIG_EXECUTABLE /usr/bin/${VW_CROSS_TRIPLET}-pkg-config CACHE FILEPATH "pkg-config of the target")
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${VW_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig)

# Programs (ffmpeg for the test media, npm) are the build machine's; libraries and headers the
# target's, found through the multiarch paths of the cross compiler.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

# ctest runs the target's test programs in qemu-user, started explicitly: no binfmt_misc needed.
# The target's dynamic loader and libraries are on / through multiarch (libc6:ARCH), so no -L.
find_program(VW_CROSS_QEMU ${VW_CROSS_QEMU_NAME})
if(VW_CROSS_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${VW_CROSS_QEMU})
endif()
