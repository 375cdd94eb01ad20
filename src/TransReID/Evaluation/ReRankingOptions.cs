using System;

namespace TransReID.Evaluation;

/// <summary>
/// k-reciprocal re-ranking parameters. Defaults are Zhong et al.'s (k1 = 20, k2 = 6, λ = 0.3);
/// <see cref="TransReID"/> holds the values TransReID's (unused) <c>re_ranking</c> call passes.
/// </summary>
/// <param name="K1">size of the forward neighbourhood for the k-reciprocal sets (its half, rounded to even, for the expansion).</param>
/// <param name="K2">number of nearest neighbours averaged by local query expansion (1 = no expansion).</param>
/// <param name="Lambda">weight of the original distance in the final distance; the Jaccard distance gets 1 − λ.</param>
public sealed record ReRankingOptions(int K1 = 20, int K2 = 6, double Lambda = 0.3)
{
    /// <summary>k1 = 50, k2 = 15, λ = 0.3 (TransReID <c>processor.py</c>).</summary>
    public static ReRankingOptions TransReID { get; } = new(50, 15, 0.3);

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
