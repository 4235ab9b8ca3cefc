// fuzz-replay: runs fuzz_api's LLVMFuzzerTestOneInput over files and
// directories given as arguments (a corpus), without libFuzzer.  Used by
// make check (tests/reliability/meson.build) to replay fuzz/corpus/ as
// regression inputs, also under valgrind and the sanitizers (FUZZ-02).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "corpus_files.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
    std::vector<std::string> files;
    for (int i = 1; i < argc; i++)
        if (!corpus_files(argv[i], files)) std::fprintf(stderr, "fuzz-replay: cannot stat %s\n", argv[i]);
    std::sort(files.begin(), files.end());
    if (files.empty()) {
        std::fprintf(stderr, "fuzz-replay: no inputs\n");
        return 2;
    }
    for (const std::string &f : files) {
        FILE *fp = std::fopen(f.c_str(), "rb");
        if (!fp) {
            std::fprintf(stderr, "fuzz-replay: cannot open %s\n", f.c_str());
            return 2;
        }
        std::vector<uint8_t> buf;
        int c;
        while ((c = std::fgetc(fp)) != EOF) buf.push_back(uint8_t(c));
        std::fclose(fp);
        std::fprintf(stderr, "fuzz-replay: %s (%zu bytes)\n", f.c_str(), buf.size());
        LLVMFuzzerTestOneInput(buf.data(), buf.size());
    }
    std::printf("fuzz-replay: %zu inputs, no model violation\n", files.size());
    return 0;
}
