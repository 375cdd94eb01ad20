using System;

namespace TransReID.Evaluation;

/// <summary>
/// Result of the re-identification protocol (docs/model.md#evaluation-protocol) over the valid queries (those with at least one
/// true match left after same-identity-same-camera removal).
/// </summary>
/// <param name="MeanAP">mean average precision, in [0, 1].</param>
/// <param name="Cmc">cumulative match characteristic: <c>Cmc[k - 1]</c> is Rank-k, length = max rank (50, or the
/// gallery size when that is smaller).</param>
/// <param name="MeanInp">mean inverse negative penalty: mean of R / (position of the last true match), as FastReID.</param>
/// <param name="ValidQueries">number of queries that were scored.</param>
public sealed record ReidMetrics(double MeanAP, double[] Cmc, double MeanInp, int ValidQueries)
{
    public double Rank1 => Rank(1);

    public double Rank5 => Rank(5);

    public double Rank10 => Rank(10);

    public double Rank20 => Rank(20);

    /// <summary>
    /// Rank-k accuracy. For k beyond <see cref="Cmc"/>'s length (a gallery smaller than k) every kept gallery item is
    /// within the top k, so the curve's final value is returned.
    /// </summary>
    public double Rank(int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (Cmc.Length == 0)
        {
            throw new InvalidOperationException("ReidMetrics.Cmc is empty; cannot read Rank-" + k + ".");
        }

        return Cmc[Math.Min(k, Cmc.Length) - 1];
    }

    /// <summary>One line, percentages with one decimal as the upstream log: "mAP 85.0% R1 94.1% R5 ...".</summary>
    public override string ToString() =>
        string.Create(
            System.Globalization.CultureInfo.InvariantCulture,
            $"mAP {MeanAP * 100:F1}% | R1 {Rank1 * 100:F1}% | R5 {Rank5 * 100:F1}% | R10 {Rank10 * 100:F1}% | mINP {MeanInp * 100:F1}% | {ValidQueries} queries");
}
