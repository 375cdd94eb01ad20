import sys
# Row r of a row-major A (rows lda floats apart) as a base pointer and a scaled index: rows 0-6 from a0, 7-13 from a7,
# each at base + {0, l, 2l, l3, 4l, l5, 2·l3} (l, l3, l5: 1, 3, 5 rows in bytes), so that every broadcast is one
# addressing mode and the loop advances two pointers.
ROWS = ["", " + l", " + l * 2", " + l3", " + l * 4", " + l5", " + l3 * 2"]
def row_address(r):
    return f"{'a0' if r < 7 else 'a7'}{ROWS[r % 7]}"

def kernel(name, vec, width, mr, nv, doc, astep=None, stream=0, late=0):
    # astep: floats of packed A per k step (the packed panel's MR); a kernel for the first mr rows of a wider panel;
    #        0: A is row-major (not packed), its rows lda floats apart (an extra argument after a)
    # stream: an extra argument pf, a byte stream prefetched into L2 one 64-byte line per `stream` k steps, spread over the loop
    # late: prefetch the C tile `late` k steps before the end of the loop (0: before it), so that the A and B panels
    #       streaming through L1 during a long slice do not evict it before the store
    rows = astep == 0
    astep = astep or mr
    nr = width*nv
    L = []
    L.append(f"    /// <summary>{doc}</summary>")
    L.append("    [MethodImpl(MethodImplOptions.AggressiveOptimization)]")
    pfArg = ", byte* pf" if stream else ""
    ldaArg = ", nint lda" if rows else ""
    L.append(f"    public static void {name}(int kc, float* a{ldaArg}, float* b, float* c, nint ldc, float alpha, float beta{pfArg})")
    L.append("    {")
    if rows:
        strides = ["l = lda * sizeof(float)"] + (["l3 = 3 * l"] if mr > 3 else []) + (["l5 = 5 * l"] if mr > 5 else [])
        if mr > 1: L.append("        nint " + ", ".join(strides) + ";")
        L.append("        byte* a0 = (byte*)a" + (", a7 = a0 + 7 * l;" if mr > 7 else ";"))
    for r in range(mr):
        L.append("        " + f"{vec}<float> " + ", ".join(f"c{r}_{v} = default" for v in range(nv)) + ";")
    # The C tile (first, middle and last element of each row) is prefetched so its cache misses overlap the k loop:
    # before it, or `late` k steps before the store.
    prefetch = f"PrefetchTile(c, ldc, {mr}, {nr});"
    if late:
        L.append(f"        int cStep = kc > {late} ? kc - {late} : 0;")
    else:
        L.append("        " + prefetch)
    L.append("        for (int p = 0; p < kc; p++)")
    L.append("        {")
    if late:
        L.append("            if (p == cStep) " + prefetch)
    if stream:
        L.append(f"            if (Sse.IsSupported && (p & {stream - 1}) == 0) Sse.Prefetch1(pf + {64 // stream} * p);")
    L.append("            " + f"{vec}<float> " + ", ".join(f"b{v} = {vec}.Load(b + {v*width})" if v else f"b0 = {vec}.Load(b)" for v in range(nv)) + ";")
    for r in range(mr):
        elem = f"*(float*)({row_address(r)})" if rows else f"a[{r}]"
        L.append(f"            {'' if r else vec+'<float> '}av = {vec}.Create({elem});")
        L.append("            " + " ".join(f"c{r}_{v} = {vec}.FusedMultiplyAdd(av, b{v}, c{r}_{v});" for v in range(nv)))
    if rows:
        L.append("            a0 += sizeof(float);")
        if mr > 7: L.append("            a7 += sizeof(float);")
    else:
        L.append(f"            a += {astep};")
    L.append(f"            b += {nr};")
    L.append("        }")
    L.append(f"        {vec}<float> va = {vec}.Create(alpha), vb = {vec}.Create(beta);")
    L.append("        int mode = beta == 0 ? 0 : beta == 1 ? 1 : 2;")
    for r in range(mr):
        for v in range(nv):
            off = f" + {v*width}" if v else ""
            row = "c" if r == 0 else "c + ldc" if r == 1 else f"c + {r} * ldc"
            L.append(f"        Update({row}{off}, c{r}_{v}, va, vb, mode);")
    L.append("    }")
    return "\n".join(L)
print(kernel(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6],
             int(sys.argv[7]) if len(sys.argv) > 7 and sys.argv[7] != "-" else None,  # "-": packed with MR = mr
             int(sys.argv[8]) if len(sys.argv) > 8 else 0,
             int(sys.argv[9]) if len(sys.argv) > 9 else 0))
