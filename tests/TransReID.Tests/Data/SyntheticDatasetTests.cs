using System;
using System.IO;
using System.Linq;
using TransReID.Data;

namespace TransReID.Tests.Data;

public sealed class SyntheticDatasetTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Counts_FollowTheSplitRules_AndTheMarketReaderReadsIt()
    {
        var ds = SyntheticDataset.Generate(_dir.Combine("a"), ids: 6, cameras: 3, seed: 5, imagesPerIdPerCamera: 2, height: 64, width: 32);

        Assert.Equal("synthetic", ds.Name);
        Assert.Equal(3, ds.Train.IdentityCount);
        Assert.Equal(3 * 3 * 2, ds.Train.ImageCount);
        Assert.Equal(3, ds.Query.IdentityCount);
        Assert.Equal(3 * 2, ds.Query.ImageCount); // one image in each of two cameras per test id
        Assert.Equal((3 * 3 * 2) - 6, ds.Gallery.ImageCount);
        Assert.Equal(3, ds.Cameras);
        Assert.All(ds.Query.Images.GroupBy(i => i.Identity), g => Assert.Equal(2, g.Select(i => i.Camera).Distinct().Count()));
        Assert.Empty(ds.Query.Images.Select(i => i.Identity).Intersect(ds.Train.Images.Select(i => i.Identity + 1)));
        Assert.Matches(@"^\d{4}_c\ds1_\d{6}_01\.jpg$", Path.GetFileName(ds.Gallery.Images[0].Path));

        var chw = new float[3 * 64 * 32];
        ImageLoader.LoadNormalized(ds.Query.Images[0].Path, 64, 32, chw);
        Assert.InRange(chw.Max() - chw.Min(), 0.5f, 2f);
    }

    [Fact]
    public void SameSeed_IdenticalFiles_OtherSeed_DifferentFiles()
    {
        var a = SyntheticDataset.Generate(_dir.Combine("a"), ids: 4, cameras: 2, seed: 9, imagesPerIdPerCamera: 2, height: 48, width: 24);
        var b = SyntheticDataset.Generate(_dir.Combine("b"), ids: 4, cameras: 2, seed: 9, imagesPerIdPerCamera: 2, height: 48, width: 24);
        var c = SyntheticDataset.Generate(_dir.Combine("c"), ids: 4, cameras: 2, seed: 10, imagesPerIdPerCamera: 2, height: 48, width: 24);

        var filesA = a.Train.Images.Concat(a.Query.Images).Concat(a.Gallery.Images).Select(i => i.Path).ToArray();
        var filesB = b.Train.Images.Concat(b.Query.Images).Concat(b.Gallery.Images).Select(i => i.Path).ToArray();
        var filesC = c.Train.Images.Select(i => i.Path).ToArray();
        Assert.Equal(filesA.Select(Path.GetFileName), filesB.Select(Path.GetFileName));
        for (int i = 0; i < filesA.Length; i++)
        {
            Assert.Equal(File.ReadAllBytes(filesA[i]), File.ReadAllBytes(filesB[i]));
        }

        Assert.NotEqual(File.ReadAllBytes(filesA[0]), File.ReadAllBytes(filesC[0]));
    }

    [Fact]
    public void Identity_IsRecognisableAcrossCameras_FromThePersonRegion()
    {
        // 10 test identities, 4 cameras: chance rank-1 is 10 %. Whole-image pixels are dominated by the camera's
        // background and colour cast; the centre (the person) with its mean removed carries the identity.
        var ds = SyntheticDataset.Generate(_dir.Combine("nn"), ids: 20, cameras: 4, seed: 3, imagesPerIdPerCamera: 2, height: 64, width: 32);
        static float[] Feature(ReidImage image)
        {
            var chw = new float[3 * 32 * 16];
            ImageLoader.LoadNormalized(image.Path, 32, 16, chw);
            var f = new float[3 * 20 * 6];
            for (int c = 0, k = 0; c < 3; c++)
            {
                int start = k;
                for (int y = 6; y < 26; y++)
                {
                    for (int x = 5; x < 11; x++)
                    {
                        f[k++] = chw[(c * 512) + (y * 16) + x];
                    }
                }

                float mean = f.AsSpan(start, k - start).ToArray().Average();
                for (int i = start; i < k; i++)
                {
                    f[i] -= mean;
                }
            }

            return f;
        }

        var gallery = ds.Gallery.Images.Select(g => (g, f: Feature(g))).ToArray();
        int hits = 0;
        foreach (var q in ds.Query.Images)
        {
            float[] fq = Feature(q);
            var best = gallery.Where(g => !(g.g.Identity == q.Identity && g.g.Camera == q.Camera))
                .MinBy(g => g.f.Zip(fq, (x, y) => (x - y) * (x - y)).Sum());
            hits += best.g.Identity == q.Identity ? 1 : 0;
        }

        double rank1 = hits / (double)ds.Query.ImageCount;
        Assert.True(rank1 > 0.4, $"person-region nearest-neighbour rank-1 {rank1:P0} is near chance (10 %)");
    }
}
