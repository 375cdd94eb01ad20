using TransReID.Shapes;

namespace TransReID.Runtime.Tests;

public class ShapeMathTests
{
    [Theory]
    [InlineData(256, 16, 12, 21)]
    [InlineData(128, 16, 12, 10)]
    [InlineData(256, 16, 16, 16)]
    [InlineData(384, 16, 12, 31)]
    public void GridSize_matches_spec_table(int size, int patch, int stride, int expected) =>
        Assert.Equal(expected, ShapeMath.GridSize(size, patch, stride));

    [Fact]
    public void JpmSource_matches_spec_tiny_example()
    {
        // docs/model.md#jpm-index-examples: N = 12, m = 5, g = 2 -> u = [p4 p10 p5 p11 p6 p0 p7 p1 p8 p2 p9 p3]
        int[] expected = [4, 10, 5, 11, 6, 0, 7, 1, 8, 2, 9, 3];
        for (int u = 0; u < 12; u++) Assert.Equal(expected[u], ShapeMath.JpmSource(u, 12, 5, 2, true));
    }

    [Fact]
    public void JpmSource_matches_spec_stride12_case()
    {
        // docs/model.md#jpm-index-examples, N = 210: u[2j] = p[(j+4) mod 210], u[2j+1] = p[(j+109) mod 210]
        for (int j = 0; j < 105; j++)
        {
            Assert.Equal((j + 4) % 210, ShapeMath.JpmSource(2 * j, 210, 5, 2, true));
            Assert.Equal((j + 109) % 210, ShapeMath.JpmSource(2 * j + 1, 210, 5, 2, true));
        }
    }

    [Fact]
    public void JpmSource_odd_count_appends_second_to_last()
    {
        // N = 441 (256x256 stride 12), g = 2: padded 442, position u = 441 = 2·220 + 1 -> s[1·221 + 220] = s[441] -> s[439]
        int n = 441, roll = 4;
        Assert.Equal((439 + roll) % n, ShapeMath.JpmSource(441, n, 5, 2, true));
    }

    [Theory]
    [InlineData(6, 0, 0, 6)]
    [InlineData(0, 8, 0, 8)]
    [InlineData(20, 8, 0, 160)]
    [InlineData(0, 0, 0, 0)]
    [InlineData(1, 1, 0, 0)]
    public void SieRows_matches_spec(int cams, int views, int _, int rows) => Assert.Equal(rows, ShapeMath.SieRows(cams, views));
}
