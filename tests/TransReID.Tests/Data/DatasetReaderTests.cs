using System;
using System.IO;
using System.Linq;
using TransReID.Data;

namespace TransReID.Tests.Data;

public sealed class DatasetReaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Theory]
    [InlineData("0001_c3s1_000551_02.jpg", true, 1, 2)]
    [InlineData("/data/query/-1_c1s1_000001_00.jpg", true, -1, 0)]
    [InlineData("0002_c6s2_000001_01.png", true, 2, 5)]
    [InlineData("person_a.png", false, 0, 0)]
    [InlineData("0001_c0s1_000001_01.jpg", false, 0, 0)]
    public void TryParseMarketName_gives_identity_and_zero_based_camera(string name, bool ok, int identity, int camera)
    {
        Assert.Equal(ok, DatasetReader.TryParseMarketName(name, out int id, out int cam));
        Assert.Equal((identity, camera), (id, cam));
    }

    public void Dispose() => _dir.Dispose();

    private static string Name(string path) => Path.GetFileName(path);

    private string BuildMarket(string root)
    {
        // Train pids 10, 3, 7 (files listed out of pid order); 3 and 10 in two cameras.
        foreach (string f in (string[])["0010_c1s1_000151_01.jpg", "0003_c2s1_000201_01.jpg", "0007_c6s2_000301_02.jpg",
                     "0010_c3s1_000401_01.jpg", "0003_c1s1_000501_01.jpg"])
        {
            _dir.Touch($"{root}/bounding_box_train/{f}");
        }

        _dir.Touch($"{root}/bounding_box_train/readme.txt"); // not an image: ignored
        _dir.Touch($"{root}/query/0011_c1s1_000101_00.jpg");
        _dir.Touch($"{root}/query/0012_c4s1_000101_00.jpg");
        _dir.Touch($"{root}/bounding_box_test/-1_c1s1_000001_00.jpg"); // junk: dropped
        _dir.Touch($"{root}/bounding_box_test/0000_c5s1_000002_00.jpg"); // distractor: kept
        _dir.Touch($"{root}/bounding_box_test/0011_c2s1_000003_00.jpg");
        _dir.Touch($"{root}/bounding_box_test/0012_c3s1_000004_00.jpg");
        return _dir.Combine(root);
    }

    [Fact]
    public void Market_ParsesNames_DropsJunk_KeepsDistractors_RelabelsTrainAscending()
    {
        string root = BuildMarket("market1501");

        var ds = DatasetReader.Open(root, "market");

        Assert.Equal("market1501", ds.Name);
        Assert.Equal(5, ds.Train.ImageCount);
        Assert.Equal(3, ds.Train.IdentityCount);
        // Ascending raw pid: 3 → 0, 7 → 1, 10 → 2.
        Assert.Equal(0, ds.Train.Images.Single(i => Name(i.Path) == "0003_c2s1_000201_01.jpg").Identity);
        Assert.Equal(1, ds.Train.Images.Single(i => Name(i.Path) == "0007_c6s2_000301_02.jpg").Identity);
        Assert.Equal(2, ds.Train.Images.Single(i => Name(i.Path) == "0010_c3s1_000401_01.jpg").Identity);
        Assert.Equal(5, ds.Train.Images.Single(i => Name(i.Path) == "0007_c6s2_000301_02.jpg").Camera); // c6 → 5
        Assert.All(ds.Train.Images, i => Assert.Equal(0, i.View));

        Assert.Equal([11, 12], ds.Query.Images.Select(i => i.Identity).Order());
        Assert.Equal([0, 11, 12], ds.Gallery.Images.Select(i => i.Identity).Order());
        Assert.Equal(3, ds.Gallery.ImageCount);
        Assert.Equal(6, ds.Cameras);
        Assert.Equal(0, ds.Views);
        Assert.Equal(4, ds.Train.CameraCount); // c1, c2, c3, c6
    }

    [Fact]
    public void Describe_PrintsTheOfficialTable()
    {
        var ds = DatasetReader.Open(BuildMarket("m"), "market");

        string text = ds.Describe();

        Assert.Contains("  subset   | # ids | # images | # cameras", text, StringComparison.Ordinal);
        Assert.Contains("  train    |     3 |        5 |         4", text, StringComparison.Ordinal);
        Assert.Contains("  query    |     2 |        2 |         2", text, StringComparison.Ordinal);
        Assert.Contains("  gallery  |     3 |        3 |         3", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Market_FoundUnderItsStandardFolderName_AndAutoDetected()
    {
        BuildMarket("market1501");

        var ds = DatasetReader.Open(_dir.Path, "auto");

        Assert.Equal("market1501", ds.Name);
        Assert.Equal(5, ds.Train.ImageCount);
    }

    [Fact]
    public void Market_MissingFolder_NamesIt()
    {
        string root = BuildMarket("m");
        Directory.Delete(Path.Combine(root, "query"), recursive: true);

        var ex = Assert.Throws<DirectoryNotFoundException>(() => DatasetReader.ReadMarket1501(root));

        Assert.Contains(Path.Combine(root, "query"), ex.Message, StringComparison.Ordinal);
        Assert.Contains("bounding_box_train",
            Assert.Throws<DirectoryNotFoundException>(() => DatasetReader.ReadMarket1501(_dir.Combine("empty-nothing-here"))).Message
            + Assert.Throws<DirectoryNotFoundException>(() => DatasetReader.ReadMarket1501(_dir.Path)).Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Market_BadName_NamesTheFile()
    {
        string root = BuildMarket("m");
        string bad = _dir.Touch("m/query/holiday.jpg");

        var ex = Assert.Throws<InvalidDataException>(() => DatasetReader.ReadMarket1501(root));

        Assert.Contains(bad, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duke_DetectedByFolderName_EightCameras()
    {
        _dir.Touch("DukeMTMC-reID/bounding_box_train/0005_c8_f0051.jpg");
        _dir.Touch("DukeMTMC-reID/bounding_box_train/0001_c2_f0052.jpg");
        _dir.Touch("DukeMTMC-reID/query/0009_c1_f0053.jpg");
        _dir.Touch("DukeMTMC-reID/bounding_box_test/0009_c7_f0054.jpg");

        var ds = DatasetReader.Open(_dir.Path);

        Assert.Equal("dukemtmcreid", ds.Name);
        Assert.Equal(8, ds.Cameras);
        Assert.Equal([0, 1], ds.Train.Images.Select(i => i.Identity).Order());
        Assert.Equal(7, ds.Train.Images.Single(i => i.Identity == 1).Camera);
    }

    [Fact]
    public void Msmt17_ReadsLists_TrainIsTrainPlusVal_CameraFromThirdField()
    {
        _dir.Write("MSMT17/list_train.txt", "0000/0000_000_01_0303morning_0015_0.jpg 0\n0001/0001_003_07_0303noon_0032_1.jpg 1\n");
        _dir.Write("MSMT17/list_val.txt", "0002/0002_010_15_0303afternoon_0001_0.jpg 2\n\n");
        _dir.Write("MSMT17/list_query.txt", "0100/0100_001_03_0303morning_0007_0.jpg 100\n");
        _dir.Write("MSMT17/list_gallery.txt", "0100/0100_004_12_0303noon_0007_0.jpg 100\n0200/0200_004_02_0303noon_0008_0.jpg 200\n");
        Directory.CreateDirectory(_dir.Combine("MSMT17/train"));
        Directory.CreateDirectory(_dir.Combine("MSMT17/test"));

        var ds = DatasetReader.Open(_dir.Path, "auto");

        Assert.Equal("msmt17", ds.Name);
        Assert.Equal(3, ds.Train.ImageCount);
        Assert.Equal([0, 6, 14], ds.Train.Images.Select(i => i.Camera));
        Assert.Equal([0, 1, 2], ds.Train.Images.Select(i => i.Identity));
        Assert.Equal(_dir.Combine("MSMT17/train/0002/0002_010_15_0303afternoon_0001_0.jpg"), ds.Train.Images[2].Path);
        Assert.Equal(_dir.Combine("MSMT17/test/0100/0100_001_03_0303morning_0007_0.jpg"), ds.Query.Images[0].Path);
        Assert.Equal([100, 200], ds.Gallery.Images.Select(i => i.Identity));
        Assert.Equal([11, 1], ds.Gallery.Images.Select(i => i.Camera));
        Assert.Equal(15, ds.Cameras);
    }

    [Fact]
    public void Msmt17_BadLine_NamesFileAndLine()
    {
        _dir.Write("MSMT17/list_train.txt", "0000/0000_000_01_x.jpg 0\n0000/nocamera.jpg 0\n");
        _dir.Write("MSMT17/list_val.txt", "");
        Directory.CreateDirectory(_dir.Combine("MSMT17/train"));
        Directory.CreateDirectory(_dir.Combine("MSMT17/test"));

        var ex = Assert.Throws<InvalidDataException>(() => DatasetReader.ReadMsmt17(_dir.Combine("MSMT17")));

        Assert.Contains("list_train.txt:2", ex.Message, StringComparison.Ordinal);
        Assert.Contains("list_query.txt", Assert.Throws<FileNotFoundException>(() =>
        {
            File.WriteAllText(_dir.Combine("MSMT17/list_train.txt"), "0000/0000_000_01_x.jpg 0\n");
            DatasetReader.ReadMsmt17(_dir.Combine("MSMT17"));
        }).Message, StringComparison.Ordinal);
    }

    private void BuildVeri()
    {
        _dir.Touch("VeRi/image_train/0001_c001_00016450_0.jpg");
        _dir.Touch("VeRi/image_train/0001_c012_00016460_0.jpg");
        _dir.Touch("VeRi/image_train/0776_c020_00016470_0.jpg");
        _dir.Touch("VeRi/image_train/0002_c003_00016480_0.jpg"); // no view label
        _dir.Touch("VeRi/image_query/0005_c002_00030600_0.jpg");
        _dir.Touch("VeRi/image_test/0005_c004_00030610_0.jpg");
        _dir.Touch("VeRi/image_test/-1_c004_00030620_0.jpg"); // junk
    }

    [Fact]
    public void Veri_ViewsFromKeypointFiles_UnlabelledImagesSkipped()
    {
        BuildVeri();
        string pairs = string.Join(' ', Enumerable.Repeat("-1 -1", 20));
        _dir.Write("VeRi/keypoint_train.txt",
            $"image_train/0001_c001_00016450_0.jpg {pairs} 3\nimage_train/0001_c012_00016460_0.jpg {pairs} 0\n" +
            $"image_train/0776_c020_00016470_0.jpg {pairs} 7\n");
        _dir.Write("VeRi/keypoint_test.txt",
            $"image_query/0005_c002_00030600_0.jpg {pairs} 5\nimage_test/0005_c004_00030610_0.jpg {pairs} 6\n" +
            $"image_train/0001_c001_00016450_0.jpg {pairs} 1\n"); // train file wins

        var ds = DatasetReader.Open(_dir.Path);

        Assert.Equal("veri", ds.Name);
        Assert.Equal(3, ds.Train.ImageCount);
        Assert.Equal([3, 0, 7], ds.Train.Images.Select(i => i.View));
        Assert.Equal([0, 11, 19], ds.Train.Images.Select(i => i.Camera));
        Assert.Equal([0, 0, 1], ds.Train.Images.Select(i => i.Identity));
        Assert.Equal(5, ds.Query.Images.Single().View);
        Assert.Equal(6, ds.Gallery.Images.Single().View);
        Assert.Equal(20, ds.Cameras);
        Assert.Equal(8, ds.Views);
    }

    [Fact]
    public void Veri_WithoutKeypointFiles_KeepsEveryImage_NoViews()
    {
        BuildVeri();

        var ds = DatasetReader.Open(_dir.Path, "veri");

        Assert.Equal(4, ds.Train.ImageCount);
        Assert.Equal(0, ds.Views);
        Assert.All(ds.Train.Images, i => Assert.Equal(0, i.View));
        Assert.Equal(1, ds.Gallery.ImageCount);
    }

    [Fact]
    public void Csv_WithHeaderAndCameras_RelativePaths()
    {
        string csv = _dir.Write("data/manifest.csv",
            "path,identity,camera\nimgs/a.jpg,42,0\nimgs/b.jpg,7,2\n\"imgs/with, comma.jpg\",42,1\n");

        var ds = DatasetReader.Open(csv);

        Assert.Equal("csv", ds.Name);
        Assert.Equal(3, ds.Train.ImageCount);
        Assert.Equal([1, 0, 1], ds.Train.Images.Select(i => i.Identity)); // 7 → 0, 42 → 1
        Assert.Equal(_dir.Combine("data/imgs/with, comma.jpg"), ds.Train.Images[2].Path);
        Assert.Equal(3, ds.Cameras);
        Assert.Equal(0, ds.Views);
        Assert.Equal(0, ds.Query.ImageCount);
    }

    [Fact]
    public void Csv_WithoutCameras_CameraSieOff_GalleryKeptApartForEvaluation()
    {
        _dir.Write("set/train.csv", "t1.png,5\nt2.png,9\n");
        _dir.Write("set/query.csv", "q1.png,100\n");
        _dir.Write("set/gallery.csv", "path,identity\ng1.png,100\ng2.png,101\n");

        var ds = DatasetReader.Open(_dir.Combine("set"), "csv");

        Assert.Equal(0, ds.Cameras);
        Assert.Equal([0, 1], ds.Train.Images.Select(i => i.Identity));
        Assert.All(ds.Train.Images, i => Assert.Equal(0, i.Camera));
        Assert.Equal(0, ds.Query.Images.Single().Camera);
        Assert.All(ds.Gallery.Images, i => Assert.Equal(1, i.Camera));
        Assert.Equal([100, 101], ds.Gallery.Images.Select(i => i.Identity));
    }

    [Fact]
    public void Csv_WithViews_AndBadRows()
    {
        string good = _dir.Write("v.csv", "a.jpg,1,0,3\nb.jpg,2,1,0\n");
        Assert.Equal(4, DatasetReader.ReadCsv(good).Views);

        string badId = _dir.Write("bad.csv", "a.jpg,1\nb.jpg,x\n");
        var ex = Assert.Throws<InvalidDataException>(() => DatasetReader.ReadCsv(badId));
        Assert.Contains("bad.csv:2", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'x'", ex.Message, StringComparison.Ordinal);

        string mixed = _dir.Write("mixed.csv", "a.jpg,1,0\nb.jpg,2\n");
        Assert.Contains("mixed.csv:2", Assert.Throws<InvalidDataException>(() => DatasetReader.ReadCsv(mixed)).Message,
            StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => DatasetReader.ReadCsv(_dir.Combine("none.csv")));
    }

    [Fact]
    public void Folder_FlatIsAllTrain_SubfoldersAreSplits()
    {
        _dir.Touch("flat/0002_c1s1_000451_03.jpg");
        _dir.Touch("flat/0001_c3s1_000452_03.png");
        var flat = DatasetReader.Open(_dir.Combine("flat"));
        Assert.Equal("folder", flat.Name);
        Assert.Equal(2, flat.Train.ImageCount);
        Assert.Equal(0, flat.Query.ImageCount + flat.Gallery.ImageCount);
        Assert.Equal(3, flat.Cameras);

        _dir.Touch("split/train/0002_c1s1_000451_03.jpg");
        _dir.Touch("split/query/0009_c1s1_000451_03.jpg");
        _dir.Touch("split/gallery/0009_c2s1_000451_03.jpg");
        var split = DatasetReader.Open(_dir.Combine("split"), "folder");
        Assert.Equal([1, 1, 1], new[] { split.Train.ImageCount, split.Query.ImageCount, split.Gallery.ImageCount });
        Assert.Equal(9, split.Query.Images[0].Identity);
    }

    [Fact]
    public void UnknownKind_AndUndetectableFolder_AreClearErrors()
    {
        Assert.Contains("'cuhk03'", Assert.Throws<ArgumentException>(() => DatasetReader.Open(_dir.Path, "cuhk03")).Message,
            StringComparison.Ordinal);
        Directory.CreateDirectory(_dir.Combine("nothing"));
        Assert.Contains("nothing", Assert.Throws<InvalidDataException>(() => DatasetReader.Open(_dir.Combine("nothing"))).Message,
            StringComparison.Ordinal);
    }
}
