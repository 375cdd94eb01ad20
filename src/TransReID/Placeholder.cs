namespace TransReID; internal static class Placeholder { }
