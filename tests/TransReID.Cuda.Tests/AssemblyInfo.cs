// The Gpu tests share one device and the NVRTC tests a process-wide library resolver: run test classes one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
