using static TransReID.Runtime.Tests.Cpu.Reference;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>TokenEmbed ([cls] + position + λ·SIE) and its backward.</summary>
public class TokensTests
{
    private const int Batch = 3, Patches = 4, Tokens = Patches + 1, Dim = 6, SieRows = 4;
    private static readonly int[] SieIndex = [2, 0, 2];

    private static double[] TokenRef(double[] patches, double[] cls, double[] pos, double[]? sie, double coef)
    {
        var x = new double[Batch * Tokens * Dim];
        for (int b = 0; b < Batch; b++)
            for (int t = 0; t < Tokens; t++)
                for (int c = 0; c < Dim; c++)
                {
                    double v = (t == 0 ? cls[c] : patches[(b * Patches + t - 1) * Dim + c]) + pos[t * Dim + c];
                    if (sie is not null) v += coef * sie[SieIndex[b] * Dim + c];
                    x[(b * Tokens + t) * Dim + c] = v;
                }
        return x;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TokenEmbed_matches_float64_reference(bool withSie)
    {
        using var rig = new CpuRig();
        float[] patches = Random(1, Batch * Patches * Dim), cls = Random(2, Dim), pos = Random(3, Tokens * Dim), sie = Random(4, SieRows * Dim);
        DevicePtr x = rig.Alloc(Batch * Tokens * Dim);
        rig.Backend.TokenEmbed(rig.Up(patches), rig.Up(cls), rig.Up(pos), withSie ? rig.Up(sie) : DevicePtr.Null,
            withSie ? rig.Up(SieIndex) : DevicePtr.Null, 3f, x, Batch, Tokens, Dim);
        AssertClose(TokenRef(D(patches), D(cls), D(pos), withSie ? D(sie) : null, 3), rig.Down(x, Batch * Tokens * Dim), 1e-6, "x");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TokenEmbedBackward_matches_finite_differences(bool withSie)
    {
        using var rig = new CpuRig();
        float[] patches = Random(11, Batch * Patches * Dim), cls = Random(12, Dim), pos = Random(13, Tokens * Dim), sie = Random(14, SieRows * Dim);
        float[] r = Random(15, Batch * Tokens * Dim);
        float[] dcls0 = Random(16, Dim, 0.5), dpos0 = Random(17, Tokens * Dim, 0.5), dsie0 = Random(18, SieRows * Dim, 0.5);
        DevicePtr dpatches = rig.Up(Random(19, Batch * Patches * Dim, 100)); // garbage: must be overwritten
        DevicePtr dcls = rig.Up(dcls0), dpos = rig.Up(dpos0), dsie = withSie ? rig.Up(dsie0) : DevicePtr.Null;
        rig.Backend.TokenEmbedBackward(rig.Up(r), dpatches, dcls, dpos, dsie, withSie ? rig.Up(SieIndex) : DevicePtr.Null, 3f, Batch, Tokens, Dim);

        double[] pd = D(patches), cd = D(cls), posd = D(pos), sd = D(sie), rd = D(r);
        double Loss() => Dot(rd, TokenRef(pd, cd, posd, withSie ? sd : null, 3));
        GradCheck.AssertClose(GradCheck.Numeric(Loss, pd), rig.Down(dpatches, Batch * Patches * Dim), "dpatches");
        GradCheck.AssertClose(GradCheck.Numeric(Loss, cd), GradCheck.Accumulated(rig.Down(dcls, Dim), dcls0), "dcls");
        GradCheck.AssertClose(GradCheck.Numeric(Loss, posd), GradCheck.Accumulated(rig.Down(dpos, Tokens * Dim), dpos0), "dpos");
        if (withSie)
            GradCheck.AssertClose(GradCheck.Numeric(Loss, sd), GradCheck.Accumulated(rig.Down(dsie, SieRows * Dim), dsie0), "dsie");
    }

    [Fact]
    public void TokenEmbed_rejects_a_missing_sie_index_and_in_place_use()
    {
        // SIE indices live in backend memory and are range-checked on the host where they are made
        // (InputValidation.SieIndices); the backend checks only that they are given.
        using var rig = new CpuRig();
        DevicePtr buf = rig.Alloc(4096);
        var e = Assert.Throws<System.ArgumentNullException>(() =>
            rig.Backend.TokenEmbed(buf, buf, buf, buf, DevicePtr.Null, 3f, buf + 2048, Batch, Tokens, Dim));
        Assert.Contains("TokenEmbed: sieIndex must not be null", e.Message, System.StringComparison.Ordinal);
        Assert.Throws<System.ArgumentException>(() =>
            rig.Backend.TokenEmbed(buf + Dim, buf + 1024, buf + 2048, DevicePtr.Null, DevicePtr.Null, 0f, buf, Batch, Tokens, Dim));
    }
}
