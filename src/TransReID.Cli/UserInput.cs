using System;
using System.Globalization;
using TransReID.Data;
using TransReID.Runtime;
using TransReID.Runtime.Model;
using TransReID.Training;

namespace TransReID.Cli;

/// <summary>
/// The CLI boundary of library calls that report a user's mistake with a general .NET exception (their documented
/// contract): each converts exactly that failure to a <see cref="CliException"/> naming the option or file, so
/// <see cref="ErrorPolicy"/> can treat every other <see cref="ArgumentException"/> or
/// <see cref="InvalidOperationException"/> as a bug.
/// </summary>
internal static class UserInput
{
    /// <summary><c>--device</c>: <see cref="Device.Parse"/> throws ArgumentException for an unknown name and InvalidOperationException for an unusable CUDA device.</summary>
    public static Device ParseDevice(string name, string option = "--device")
    {
        try
        {
            return Device.Parse(name);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new CliException($"{option} {name}: {Clean(e)}", e);
        }
    }

    /// <summary><see cref="ITransReIDModel.Load"/>: InvalidOperationException when the file's tensors do not fit the model.</summary>
    public static LoadReport Load(ITransReIDModel model, string path)
    {
        try
        {
            return model.Load(path);
        }
        catch (InvalidOperationException e)
        {
            throw new CliException(Clean(e), e);
        }
    }

    /// <summary><see cref="ITransReIDModel.LoadPretrained"/>: InvalidOperationException when the file is not an ImageNet backbone that fits.</summary>
    public static LoadReport LoadPretrained(ITransReIDModel model, string path, int seed)
    {
        try
        {
            return model.LoadPretrained(path, seed);
        }
        catch (InvalidOperationException e)
        {
            throw new CliException(Clean(e), e);
        }
    }

    /// <summary><see cref="ModelCore.DetectKind"/>: InvalidOperationException when the keys are neither kind.</summary>
    public static WeightsKind DetectKind(string path)
    {
        try
        {
            return ModelCore.DetectKind(path);
        }
        catch (InvalidOperationException e)
        {
            throw new CliException(Clean(e), e);
        }
    }

    /// <summary><see cref="DatasetReader.Open"/>: ArgumentException (parameter <c>kind</c>) for an unknown <c>--dataset</c>; its data errors are InvalidDataException and I/O exceptions already.</summary>
    public static ReidDataset OpenDataset(string data, string kind)
    {
        try
        {
            return DatasetReader.Open(data, kind);
        }
        catch (ArgumentException e) when (e.ParamName == "kind")
        {
            throw new CliException($"--dataset {kind}: {Clean(e)}", e);
        }
    }

    /// <summary><see cref="DatasetFitReport.ThrowIfUnfit"/> as a user error.</summary>
    public static void ThrowIfUnfit(DatasetFitReport report)
    {
        try
        {
            report.ThrowIfUnfit();
        }
        catch (InvalidOperationException e)
        {
            throw new CliException(e.Message, e);
        }
    }

    /// <summary>
    /// A batch option: at least 1, and <paramref name="batch"/> images of <paramref name="info"/> must fit one float
    /// array (an int count of at most <see cref="Array.MaxLength"/> elements).
    /// </summary>
    public static void CheckBatch(string option, int batch, ModelInfo info, int minimum = 1)
    {
        if (batch < minimum) throw new CliException($"--{option.TrimStart('-')} {batch} must be at least {minimum}");
        long floats = (long)batch * info.ImageFloats;
        if (floats > Array.MaxLength)
        {
            long maxBatch = Array.MaxLength / info.ImageFloats;
            throw new CliException(string.Create(CultureInfo.InvariantCulture,
                $"--{option.TrimStart('-')} {batch} is too large: {batch} images of 3×{info.ImageHeight}×{info.ImageWidth} need {floats} floats ({floats * sizeof(float) / 1e9:F1} GB) in one buffer, more than the {Array.MaxLength} an array holds; use at most {maxBatch}"));
        }
    }

    /// <summary>The message without .NET's " (Parameter 'x')" suffix.</summary>
    private static string Clean(Exception e) =>
        e is ArgumentException { ParamName: { } p } a && a.Message.EndsWith($" (Parameter '{p}')", StringComparison.Ordinal)
            ? a.Message[..^$" (Parameter '{p}')".Length]
            : e.Message;
}
