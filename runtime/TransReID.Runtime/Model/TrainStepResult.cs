namespace TransReID.Runtime.Model;

/// <summary>Every loss component of one training step (parts = mean over the JPM parts; 0 without JPM).</summary>
public readonly record struct TrainStepResult(float IdGlobal, float IdParts, float TripletGlobal, float TripletParts, float Total);
