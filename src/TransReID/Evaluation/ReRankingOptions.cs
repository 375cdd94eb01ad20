using System;
using System.Collections.Generic;

namespace TransReID.Evaluation;

/// <summary>
/// k-reciprocal re-ranking parameters. The defaults are TransReID's (k1 = 50, k2 = 15, λ = 0.3: the values the official
/// code's <c>re_ranking</c> call passes, what a TransReID user expects); <see cref="Zhong2017"/> holds the re-ranking
/// paper's (k1 = 20, k2 = 6, λ = 0.3, also torchreid's and FastReID's defaults). The CLI's <c>--rerank-preset</c>
/// names both (<see cref="Presets"/>); the numbers live only here.
/// </summary>
/// <param name="K1">size of the forward neighbourhood for the k-reciprocal sets (its half, rounded to even, for the expansion).</param>
/// <param name="K2">number of nearest neighbours averaged by local query expansion (1 = no expansion).</param>
/// <param name="Lambda">weight of the original distance in the final distance; the Jaccard distance gets 1 − λ.</param>
public sealed record ReRankingOptions(int K1 = 50, int K2 = 15, double Lambda = 0.3)
{
    /// <summary>k1 = 50, k2 = 15, λ = 0.3 (TransReID <c>processor.py</c>): the defaults.</summary>
    public static ReRankingOptions TransReID { get; } = new();

    /// <summary>k1 = 20, k2 = 6, λ = 0.3 (Zhong et al., CVPR 2017; torchreid and FastReID defaults).</summary>
    public static ReRankingOptions Zhong2017 { get; } = new(20, 6, 0.3);

    /// <summary>The named parameter sets, by the name <c>--rerank-preset</c> takes; the first is the default.</summary>
    public static IReadOnlyList<KeyValuePair<string, ReRankingOptions>> Presets { get; } =
    [
        new("transreid", TransReID),
        new("zhong2017", Zhong2017),
    ];

    internal void Validate()
    {
        if (K1 < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(K1), K1, "ReRankingOptions.K1 must be at least 1.");
        }

        if (K2 < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(K2), K2, "ReRankingOptions.K2 must be at least 1.");
        }

        if (!(Lambda >= 0 && Lambda <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Lambda), Lambda, "ReRankingOptions.Lambda must be in [0, 1].");
        }
    }
}
