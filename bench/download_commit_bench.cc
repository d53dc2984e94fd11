// Vehicle storage during a download: a zoo artifact pulled through delivery::Download into a
// FileSink (the vehicle's real sink) from an in-process ContentStore, no broker, so what is
// timed is verification and storage. Compares the sink committing the verified prefix at
// every block (the behaviour before DownloadOptions::commit_bytes) with the defaults, and
// both with writing the same bytes and syncing once.
//
//   build/bin/fleetml-download-commit-bench [--model resnet18] [--dir /tmp] [--repeat 3]
//
// --dir chooses the file system: the point is what a commit (fsync) costs there; an SD card
// is where it matters.
#include <cstdio>
#include <filesystem>
#include <string>

#include <fcntl.h>
#include <unistd.h>

#include "bench/bench_fleet.h"
#include "shared/common/cli.h"
#include "shared/common/error.h"
#include "shared/delivery/content_store.h"
#include "shared/delivery/download.h"
#include "shared/delivery/posix_io.h"
#include "shared/delivery/sinks.h"

namespace fleetml::bench {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;
constexpr std::uint32_t kBlockBytes = 256 * 1024;

SteadyClock::duration download(const delivery::ContentStore& store,
                               const v1::ManifestBody& manifest, const fs::path& dir,
                               delivery::DownloadOptions options) {
  fs::remove_all(dir);
  delivery::FileSink sink(dir);
  const auto start = SteadyClock::now();
  delivery::Download d(manifest, sink, SystemClock::instance(), options);
  while (d.state() == delivery::Download::State::kActive) {
    for (const v1::FetchRequest& request : d.next_requests()) {
      d.on_chunk(delivery::serve(store, manifest, request));
    }
  }
  const auto elapsed = SteadyClock::now() - start;
  if (d.state() != delivery::Download::State::kComplete) {
    throw Error("download failed: " + d.failure_detail());
  }
  return elapsed;
}

// The same bytes written block by block, then one fdatasync: what storage costs at least.
SteadyClock::duration write_once(const delivery::ContentStore& store,
                                 const v1::ManifestBody& manifest, const fs::path& dir) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto start = SteadyClock::now();
  delivery::io::Fd out(dir / "plain", O_RDWR | O_CREAT, 0644);
  for (std::uint64_t offset = 0; offset < manifest.size_bytes(); offset += kBlockBytes) {
    out.write_at(offset, store.read(manifest.sha256(), offset, kBlockBytes));
  }
  out.sync_data();
  return SteadyClock::now() - start;
}

int run(const cli::Args& args) {
  const int repeat = static_cast<int>(args.integer("repeat"));
  if (repeat < 1) throw cli::UsageError("--repeat must be >= 1");
  const fs::path scratch =
      fs::path(args.str("dir")) / ("fleetml-commit-bench-" + std::to_string(::getpid()));
  fs::create_directories(scratch);
  delivery::ContentStore store(scratch / "store");
  v1::ManifestBody manifest;
  manifest.set_model_id(args.str("model"));
  manifest.set_version(1);
  delivery::describe_artifact(
      store.put(fs::path(args.str("zoo")) / (args.str("model") + ".pt"), kBlockBytes), manifest);
  const double bytes = static_cast<double>(manifest.size_bytes());

  std::printf("artifact %s: %.1f MB in %u KiB blocks, on %s\n", manifest.model_id().c_str(),
              bytes / 1e6, kBlockBytes / 1024, scratch.c_str());
  std::printf("%-40s %10s %10s\n", "run", "MB/s", "vs commit");
  std::printf("%-40s %10s %10s\n", "", "", "per block");
  std::vector<double> ratios;
  for (int r = 0; r < repeat; ++r) {
    const double plain = mb_per_s(bytes, write_once(store, manifest, scratch / "plain"));
    const double per_block =
        mb_per_s(bytes, download(store, manifest, scratch / "per-block", {.commit_bytes = 0}));
    const double batched = mb_per_s(bytes, download(store, manifest, scratch / "batched", {}));
    ratios.push_back(batched / per_block);
    std::printf("%-40s %10.1f %10.2f\n", "write + one fdatasync (no checks)", plain,
                plain / per_block);
    std::printf("%-40s %10.1f %10.2f\n", "download, commit at every block", per_block, 1.0);
    std::printf("%-40s %10.1f %10.2f\n", "download, default commits", batched, ratios.back());
  }
  print_ratio_summary("default commits vs commit per block", ratios);
  fs::remove_all(scratch);
  return 0;
}

}  // namespace
}  // namespace fleetml::bench

int main(int argc, char** argv) {
  using namespace fleetml;
  cli::Command command;
  command.summary = "download into a FileSink: commit per block vs the defaults";
  command.declare = [](cli::Parser& p) {
    p.option("model", "ID", "zoo artifact to download", "resnet18");
    p.option("dir", "DIR", "where the store and the downloads go (the file system measured)",
             std::filesystem::temp_directory_path().string());
    p.option("repeat", "R", "measurements, alternated (then min/median/max)", "3");
    bench::add_zoo_option(p);
  };
  command.run = bench::run;
  return cli::run_program("fleetml-download-commit-bench",
                          "vehicle storage cost of a download: commit per block vs defaults",
                          {command}, argc, argv);
}
