using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text.RegularExpressions;

namespace TransReID.Data;

public static partial class DatasetReader
{
    private static readonly string[] MarketFolderNames = ["market1501", "Market-1501", "Market-1501-v15.09.15"];
    private static readonly string[] DukeFolderNames = ["dukemtmcreid", "DukeMTMC-reID"];

    /// <summary>
    /// Market-1501: <c>bounding_box_train/</c>, <c>query/</c>, <c>bounding_box_test/</c>; names <c>PPPP_cCsS_FFFFFF_NN.jpg</c>
    /// parsed with the first match of <c>(-?digits)_c(digit)</c>. pid −1 (junk) is dropped everywhere; pid 0
    /// (distractor) is kept.
    /// </summary>
    public static ReidDataset ReadMarket1501(string root) => ReadMarketLayout(root, "market1501", "Market-1501", MarketFolderNames);

    /// <summary>DukeMTMC-reID: the Market-1501 layout and name pattern, cameras 1..8.</summary>
    public static ReidDataset ReadDukeMtmc(string root) => ReadMarketLayout(root, "dukemtmcreid", "DukeMTMC-reID", DukeFolderNames);

    /// <summary>
    /// A plain folder of images with Market-style names (<c>PPPP_cC…</c>): either flat (every image goes to the train
    /// split, query and gallery are empty) or holding <c>train/</c>, <c>query/</c> and <c>gallery/</c> subfolders
    /// (any of them may be missing).
    /// </summary>
    public static ReidDataset ReadFolder(string root)
    {
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"image folder not found: '{root}'");
        }

        string trainDir = Path.Combine(root, "train");
        string queryDir = Path.Combine(root, "query");
        string galleryDir = Path.Combine(root, "gallery");
        bool split = Directory.Exists(trainDir) || Directory.Exists(queryDir) || Directory.Exists(galleryDir);
        var dataset = split
            ? Build("folder",
                Directory.Exists(trainDir) ? ParseMarketNames(trainDir) : [],
                Directory.Exists(queryDir) ? ParseMarketNames(queryDir) : [],
                Directory.Exists(galleryDir) ? ParseMarketNames(galleryDir) : [],
                hasViews: false)
            : Build("folder", ParseMarketNames(root), [], [], hasViews: false);
        return dataset.Train.ImageCount + dataset.Query.ImageCount + dataset.Gallery.ImageCount > 0
            ? dataset
            : throw new InvalidDataException($"no images (jpg, jpeg, png, bmp) found in '{root}'");
    }

    private static ReidDataset ReadMarketLayout(string root, string name, string displayName, string[] folderNames)
    {
        string dir = Resolve(root, "bounding_box_train", folderNames, displayName);
        var train = ParseMarketNames(RequireFolder(Path.Combine(dir, "bounding_box_train"), displayName));
        var query = ParseMarketNames(RequireFolder(Path.Combine(dir, "query"), displayName));
        var gallery = ParseMarketNames(RequireFolder(Path.Combine(dir, "bounding_box_test"), displayName));
        return Build(name, train, query, gallery, hasViews: false);
    }

    private static List<ReidImage> ParseMarketNames(string folder)
    {
        var images = new List<ReidImage>();
        foreach (string file in ListImages(folder))
        {
            var (pid, camera) = ParsePidCamera(file, MarketName());
            if (pid != -1)
            {
                images.Add(new ReidImage(file, pid, camera, 0));
            }
        }

        return images;
    }

    /// <summary>
    /// Identity and 0-based camera of a Market-1501 style file name (<c>0001_c3s1_000551_02.jpg</c> → 1, 2), parsed
    /// as the official reader does (first match of <c>(-?digits)_c(digit)</c>); false when the name has none.
    /// </summary>
    public static bool TryParseMarketName(string path, out int identity, out int camera)
    {
        identity = camera = 0;
        var match = MarketName().Match(Path.GetFileName(path));
        if (!match.Success
            || !int.TryParse(match.Groups[1].ValueSpan, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out identity)
            || !int.TryParse(match.Groups[2].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out int oneBased)
            || oneBased < 1)
        {
            identity = 0;
            return false;
        }

        camera = oneBased - 1;
        return true;
    }

    /// <summary>Parses (pid, 0-based camera) from a file name; pid −1 is returned as is (junk).</summary>
    private static (int Pid, int Camera) ParsePidCamera(string file, Regex pattern)
    {
        string name = Path.GetFileName(file);
        var match = pattern.Match(name);
        if (!match.Success
            || !int.TryParse(match.Groups[1].ValueSpan, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int pid)
            || !int.TryParse(match.Groups[2].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out int camera))
        {
            throw new InvalidDataException(
                $"image name '{file}' does not match the pattern PPPP_cC… (pid, '_c', camera number)");
        }

        if (pid < -1)
        {
            throw new InvalidDataException($"image name '{file}': pid {pid} is negative (only -1, junk, is allowed)");
        }

        if (camera < 1)
        {
            throw new InvalidDataException($"image name '{file}': camera {camera} is not 1-based");
        }

        return (pid, camera - 1);
    }

    [GeneratedRegex(@"(-?[0-9]+)_c([0-9])", RegexOptions.CultureInvariant)]
    private static partial Regex MarketName();
}
