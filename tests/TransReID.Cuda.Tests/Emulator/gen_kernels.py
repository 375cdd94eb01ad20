#!/usr/bin/env python3
"""Turns each Kernels/*.cu into a C++ translation unit for the CPU emulator: CUDA-only syntax rewritten, plus one
thunk per extern "C" kernel that unpacks cuLaunchKernel's void** parameters and a static registration by name."""
import pathlib, re, sys

src_dir = pathlib.Path(sys.argv[1])
out_dir = pathlib.Path(sys.argv[2])
out_dir.mkdir(parents=True, exist_ok=True)
kernel_re = re.compile(r'extern "C" __global__ void (\w+)\(([^)]*)\)', re.S)
for cu in sorted(src_dir.glob("*.cu")):
    text = cu.read_text()
    text = text.replace('#include "common.cuh"', '#include "emu.h"\n#include "common.cuh"')
    text = re.sub(r'extern __shared__ float (\w+)\[\];', r'float* \1 = (float*)emu::dynamic_shared();', text)
    thunks, regs = [], []
    for name, params in kernel_re.findall(text):
        types = []
        for p in params.split(','):
            p = ' '.join(p.replace('__restrict__', '').split())
            m = re.match(r'(.*?)(\w+)$', p)
            types.append(m.group(1).strip())
        args = ', '.join(f'*({t}*)p[{i}]' for i, t in enumerate(types))
        thunks.append(f'static void thunk_{name}(void** p) {{ {name}({args}); }}')
        regs.append(f'    emu_register("{name}", thunk_{name});')
    text += '\n// ---- emulator glue (generated) ----\n' + '\n'.join(thunks)
    text += f'\nstatic int register_{cu.stem} = [] {{\n' + '\n'.join(regs) + '\n    return 0;\n}();\n'
    (out_dir / (cu.stem + '.cpp')).write_text(text)
    print(f'{cu.name}: {len(regs)} kernels')
