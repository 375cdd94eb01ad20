using TransReID.Generators.Emit;

namespace TransReID.Generators;

public sealed partial class TransReIDGenerator
{
    internal static partial class Emitter
    {
        /// <summary>The per-branch parameter table: BNNeck and classifier offsets of each branch.</summary>
        private static void EmitBranchTable(SourceWriter w, ModelPlan p)
        {
            w.Line("/// <summary>Parameter offsets per branch (global, then parts): its BNNeck's four tensors and its classifier.</summary>");
            w.Line("private static readonly (long BnWeight, long BnBias, long RunningMean, long RunningVar, long Classifier)[] s_branches =");
            using (w.Block("", ";"))
            {
                for (int h = 0; h < p.Branches; h++)
                {
                    string bn = "O_" + Ident(p.BatchNorms[h]);
                    string cls = "O_" + Ident(h == 0 ? "classifier.weight" : $"classifier_{h}.weight");
                    w.Line($"({bn}_weight, {bn}_bias, {bn}_running_mean, {bn}_running_var, {cls}),");
                }
            }

            w.Line();
        }

        /// <summary>Per branch: BNNeck, classifier, ID loss, triplet loss, and their backward down to the features.</summary>
        private static void EmitLosses(SourceWriter w, ModelPlan p)
        {
            w.Line("// ---- BNNecks, classifiers, losses (each writes its gradient scaled by its weight in the total) ----");
            if (p.Spec.Jpm)
            {
                w.Line("float idGlobal = (float)(options.IdWeight * options.GlobalWeight);");
                w.Line("float idPart = (float)(options.IdWeight * options.PartsWeight / JpmParts);");
                w.Line("float triGlobal = (float)(options.TripletWeight * options.GlobalWeight);");
                w.Line("float triPart = (float)(options.TripletWeight * options.PartsWeight / JpmParts);");
            }
            else
            {
                w.Line("float idGlobal = (float)options.IdWeight, triGlobal = (float)options.TripletWeight;");
            }

            w.Line("// branch 0 is the global one, branch k ≥ 1 part k − 1; its rows of a per-branch buffer start at h · B");
            using (w.Block("for (int h = 0; h < Branches; h++)"))
            {
                w.Line("var (bnWeight, bnBias, runningMean, runningVar, classifier) = s_branches[h];");
                w.Line(p.Spec.Jpm
                    ? "float idScale = h == 0 ? idGlobal : idPart, tripletScale = h == 0 ? triGlobal : triPart;"
                    : "float idScale = idGlobal, tripletScale = triGlobal;");
                w.Line("var hFeat = feat + h * b * EmbedDim;");
                w.Line("var hBnOut = bnout + h * b * EmbedDim;");
                w.Line("var hLogits = logits + h * b * Classes;");
                w.Line("var hDLogits = dlogits + h * b * Classes;");
                w.Line("var hDBn = dbn + h * b * EmbedDim;");
                w.Line("var hDFeat = dfeat + h * b * EmbedDim;");
                w.Line("var hMean = bnMean + h * EmbedDim;");
                w.Line("var hRstd = bnRstd + h * EmbedDim;");
                w.Line("// BNNeck (batch statistics in training, running ones otherwise), classifier, ID loss, triplet loss");
                w.Nested("if (training)", "_b.BatchNormTrain(hFeat, P + bnWeight, P + bnBias, hBnOut, hMean, hRstd,\n"
                    + "    P + runningMean, P + runningVar, batch, EmbedDim, 1E-05f, 0.1f);");
                w.Nested("else", "_b.BatchNormEval(hFeat, P + bnWeight, P + bnBias, P + runningMean, P + runningVar, hBnOut, batch, EmbedDim, 1E-05f);");
                w.Line($"_b.Linear(hBnOut, P + classifier, {None}, hLogits, batch, EmbedDim, Classes);");
                w.Line("_b.CrossEntropy(hLogits, labelIds, losses + h, hDLogits, batch, Classes, (float)options.LabelSmoothing, idScale);");
                w.Nested("if (triplet)", "_b.Triplet(hFeat, labelIds, losses + (Branches + h), hDFeat, tripletScratch, batch, EmbedDim,\n"
                    + "    (float)options.TripletMargin, options.NormalizeTripletFeatures, tripletScale, false);");
                w.Line("// back to the features: classifier, BNNeck (adding to the triplet gradient when there is one)");
                w.Line($"_b.LinearBackward(hDLogits, hBnOut, P + classifier, hDBn, G + classifier, {None}, batch, EmbedDim, Classes, false);");
                w.Nested("if (training)", $"_b.BatchNormBackward(hDBn, hFeat, P + bnWeight, hMean, hRstd, hDFeat, G + bnWeight, {None},\n"
                    + "    batch, EmbedDim, triplet);");
                w.Nested("else", "_b.BatchNormEvalBackward(hDBn, hFeat, P + bnWeight, P + runningMean, P + runningVar, hDFeat,\n"
                    + $"    G + bnWeight, {None}, batch, EmbedDim, 1E-05f, triplet);");
            }
        }
    }
}
