# CMake toolchain file: Debian armhf (32-bit ARMv7 with hardware floating point: Raspberry Pi 2 and
# later on a 32-bit OS). 32-bit: size_t and long are 32 bits, char is unsigned.
#   cmake -DCMAKE_TOOLCHAIN_FILE=packaging/cross/armhf.cmake ...
set(VW_CROSS_TRIPLET arm-linux-gnueabihf)
set(VW_CROSS_PROCESSOR armv7l)
set(VW_CROSS_QEMU_NAME qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
