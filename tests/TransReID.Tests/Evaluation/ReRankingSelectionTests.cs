using System;
using System.Linq;
using CsCheck;
using TransReID.Evaluation;

namespace TransReID.Tests.Evaluation;

/// <summary>The partial selection used by re-ranking must equal the prefix of a stable argsort.</summary>
public sealed class ReRankingSelectionTests
{
    [Fact]
    public void SmallestIndices_equals_stable_argsort_prefix_with_ties()
    {
        Gen.Select(Gen.Int[0, 4].Array[1, 80], Gen.Int[1, 90])
            .Sample((raw, kWanted) =>
            {
                float[] values = raw.Select(v => v == 3 ? -0f : v * 0.5f).ToArray(); // many ties, −0 vs +0
                int k = Math.Min(kWanted, values.Length);
                var got = new int[k];
                ReRanking.SmallestIndices(values, new ulong[k], got);
                int[] expected = Enumerable.Range(0, values.Length).OrderBy(i => values[i]).ThenBy(i => i).Take(k).ToArray();
                Assert.Equal(expected, got);
            }, iter: 500);
    }
}
