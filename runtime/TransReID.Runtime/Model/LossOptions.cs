namespace TransReID.Runtime.Model;

/// <summary>Loss settings (docs/model.md#id-loss, #triplet-loss, #loss-combination); the defaults are the official stride configs.</summary>
public sealed record LossOptions
{
    /// <summary>Label smoothing ε for the ID loss (0 = off, official; 0.1 when on).</summary>
    public double LabelSmoothing { get; init; }

    /// <summary>Triplet margin; 0 or less = soft margin log(1+exp(−(d_an − d_ap))) (official <c>NO_MARGIN</c>).</summary>
    public double TripletMargin { get; init; }

    /// <summary>L2-normalise features before the triplet distances (official: off).</summary>
    public bool NormalizeTripletFeatures { get; init; }

    /// <summary>Weight of the ID loss.</summary>
    public double IdWeight { get; init; } = 1.0;

    /// <summary>Weight of the triplet loss.</summary>
    public double TripletWeight { get; init; } = 1.0;

    /// <summary>Weight of the global branch inside each loss when JPM is on (official 0.5).</summary>
    public double GlobalWeight { get; init; } = 0.5;

    /// <summary>Weight of the mean over parts inside each loss when JPM is on (official 0.5).</summary>
    public double PartsWeight { get; init; } = 0.5;
}
