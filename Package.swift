// swift-tools-version: 6.1
import PackageDescription

// Layers, from the bottom: CBulkhead (the C child path and shims) -> BulkheadSpec
// (value types) -> BulkheadSystem (typed Linux wrappers) -> BulkheadCore (launchers,
// supervisor, outcome) -> BulkheadCLI (commands) -> the `bulkhead` executable.
// docs/DESIGN.md explains each boundary.
let strictC: [CSetting] = [.unsafeFlags(["-Wall", "-Wextra", "-Werror"])]

let package = Package(
  name: "Bulkhead",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "bulkhead", targets: ["bulkhead"]),
    .executable(name: "bulkhead-probe", targets: ["bulkhead-probe"]),
    .library(name: "BulkheadCore", targets: ["BulkheadCore"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
  ],
  targets: [
    .target(name: "CBulkhead", cSettings: strictC),
    .target(name: "CWorkloads", cSettings: strictC),
    // The workloads depend on nothing of Bulkhead's but their C faults: the static
    // probe links them alone.
    .target(name: "BulkheadWorkloads", dependencies: ["CWorkloads", "CBench"]),
    .executableTarget(name: "bulkhead-probe", dependencies: ["BulkheadWorkloads"]),
    .target(name: "BulkheadSpec"),
    // libseccomp compiles filters in the parent; the child only loads the BPF.
    .systemLibrary(name: "CSeccomp", providers: [.apt(["libseccomp-dev"])]),
    .target(name: "BulkheadSeccomp", dependencies: ["BulkheadSpec", "CSeccomp"]),
    .systemLibrary(name: "CCap", providers: [.apt(["libcap-dev"])]),
    .target(name: "BulkheadSystem", dependencies: ["CBulkhead", "BulkheadSpec", "CCap"]),
    .target(
      name: "BulkheadCore", dependencies: ["CBulkhead", "BulkheadSpec", "BulkheadSystem", "BulkheadSeccomp"]),
    // The OCI runtime's front door: config.json applied literally onto the same C
    // child configuration, the state directory, the lifecycle commands.
    .target(
      name: "BulkheadOCI", dependencies: ["CBulkhead", "BulkheadSpec", "BulkheadSystem", "BulkheadSeccomp"]),
    .target(
      name: "BulkheadReports",
      dependencies: ["BulkheadCore", "BulkheadSpec", "BulkheadSystem", "BulkheadWorkloads"]),
    // The measurement loops of the cost lab: C, so that what is timed is the system
    // call and not the language around it (the same loops perf bench runs).
    .target(name: "CBench", cSettings: strictC),
    // The labs: crash (blast radius), bench (cost) and compare, built on the core.
    .target(
      name: "BulkheadLab",
      dependencies: [
        "BulkheadCore", "BulkheadSpec", "BulkheadSystem", "BulkheadWorkloads", "BulkheadReports", "CBench",
        "CBulkhead",
        .product(name: "Histogram", package: "hdrhistogram-swift"),
      ]),
    .target(
      name: "BulkheadCLI",
      dependencies: [
        "BulkheadCore", "BulkheadSpec", "BulkheadSystem", "BulkheadWorkloads", "BulkheadSeccomp", "BulkheadReports",
        "BulkheadLab", "BulkheadOCI",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(name: "bulkhead", dependencies: ["BulkheadCLI"]),
    .testTarget(name: "BulkheadSpecTests", dependencies: ["BulkheadSpec"]),
    .testTarget(
      name: "BulkheadLabTests",
      dependencies: ["BulkheadLab", "BulkheadCore", "BulkheadSpec", "BulkheadSystem", "BulkheadWorkloads", "CBench"]),
    .testTarget(name: "BulkheadReportsTests", dependencies: ["BulkheadReports"]),
    .testTarget(
      name: "BulkheadFuzzTests",
      dependencies: [
        "BulkheadCLI", "BulkheadSpec", "BulkheadSeccomp",
        .product(name: "PropertyBased", package: "swift-property-based"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .testTarget(name: "BulkheadSystemTests", dependencies: ["BulkheadSystem", "BulkheadSpec"]),
    .testTarget(name: "BulkheadOCITests", dependencies: ["BulkheadOCI"]),
    .testTarget(name: "BulkheadSeccompTests", dependencies: ["BulkheadSeccomp", "BulkheadSpec"]),
    .testTarget(
      name: "BulkheadWorkloadsTests", dependencies: ["BulkheadWorkloads", "BulkheadCore", "BulkheadSeccomp"]),
    .testTarget(
      name: "BulkheadCLITests",
      dependencies: ["BulkheadCLI", "BulkheadSpec", "BulkheadCore", "CBulkhead"]),
    .testTarget(
      name: "BulkheadIntegrationTests",
      dependencies: ["BulkheadCore", "BulkheadSpec", "BulkheadSystem", "BulkheadReports", "CBulkhead"]),
  ]
)
