# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Toolchain file for the freestanding Cortex-M3 build of mcu/ with Debian's
# gcc-arm-none-eabi (tools/deps.sh mcu):
#   cmake -S mcu -B build/mcu -DCMAKE_TOOLCHAIN_FILE=cmake/cortex-m3.cmake
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR cortex-m3)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
set(CMAKE_AR arm-none-eabi-ar)
set(CMAKE_OBJCOPY arm-none-eabi-objcopy)
set(CMAKE_SIZE arm-none-eabi-size)

# No host libraries: try_compile links a static library, not a program.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(CELL_MCU_FLAGS "-mcpu=cortex-m3 -mthumb -mfloat-abi=soft -ffunction-sections -fdata-sections")
set(CMAKE_C_FLAGS_INIT "${CELL_MCU_FLAGS} -ffreestanding")
set(CMAKE_ASM_FLAGS_INIT "${CELL_MCU_FLAGS}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,--gc-sections --specs=nano.specs")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
