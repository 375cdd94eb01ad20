// Shape arithmetic of TransReID, compiled into both the source generator (netstandard2.0) and the runtime,
// so that the constants the generator emits and the checks the runtime makes come from one piece of code.
// Model reference: docs/model.md#patch-embedding, #side-information-embedding and #jigsaw-patch-module.

namespace TransReID.Shapes;

internal static class ShapeMath
{
    /// <summary>Patch grid extent along one axis: floor((size - patch) / stride) + 1 (no padding).</summary>
    public static int GridSize(int imageSize, int patchSize, int stride) => (imageSize - patchSize) / stride + 1;

    /// <summary>Rows of the SIE table: C·V with both on, C or V with one on, 0 when off (a count of 1 or less is off).</summary>
    public static int SieRows(int cameras, int views)
    {
        bool cam = cameras > 1, view = views > 1;
        if (cam && view) return cameras * views;
        if (cam) return cameras;
        if (view) return views;
        return 0;
    }

    /// <summary>SIE row of a sample: cam·V + view with both on, otherwise whichever index is on.</summary>
    public static int SieIndex(int cameras, int views, int camera, int view)
    {
        bool cam = cameras > 1, v = views > 1;
        if (cam && v) return camera * views + view;
        if (cam) return camera;
        if (v) return view;
        return 0;
    }

    /// <summary>Tokens per part: floor(N / K), computed from the original patch count (before odd-N padding).</summary>
    public static int PartLength(int patchCount, int parts) => patchCount / parts;

    /// <summary>
    /// Source patch index (0-based, into the N patch tokens, cls excluded) of position <paramref name="u"/> of the
    /// rearranged sequence: shift by (shift − 1), then interleave <paramref name="groups"/> groups; when N is not
    /// divisible by the group count the second-to-last shifted token is appended once before the reshape.
    /// Without rearrangement the order is the raster order.
    /// </summary>
    public static int JpmSource(int u, int patchCount, int shift, int groups, bool rearrange)
    {
        if (!rearrange) return u;
        int n = patchCount;
        int padded = n % groups == 0 ? n : n + 1;
        int perGroup = padded / groups;
        // u = j·g + k  ->  s[k·perGroup + j]
        int j = u / groups, k = u % groups;
        int s = k * perGroup + j;
        if (s >= n) s = n - 2; // the appended duplicate of s[N-2]
        int roll = shift - 1;
        // s[i] = p[(i + roll) mod N]; roll may exceed N for tiny grids, and a shift of 0 rolls by −1
        int src = (s + roll) % n;
        if (src < 0) src += n;
        return src;
    }

    /// <summary>Whether a shuffle with this group count is possible: N divisible by g, or N + 1 divisible by g.</summary>
    public static bool ShuffleAllowed(int patchCount, int groups) =>
        groups >= 1 && (patchCount % groups == 0 || (patchCount + 1) % groups == 0);
}
