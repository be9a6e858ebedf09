# CMake toolchain file: Debian arm64 (64-bit ARM: Raspberry Pi 3/4/5, Zero 2 W on a 64-bit OS).
#   cmake -DCMAKE_TOOLCHAIN_FILE=packaging/cross/arm64.cmake ...
set(VW_CROSS_TRIPLET aarch64-linux-gnu)
set(VW_CROSS_PROCESSOR aarch64)
set(VW_CROSS_QEMU_NAME qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
