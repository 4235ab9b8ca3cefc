// The files under a corpus path (a file, or a folder walked recursively,
// dot files skipped), for the corpus replay and the differential check.
#pragma once

#include <dirent.h>
#include <sys/stat.h>

#include <string>
#include <vector>

// Appends them to `out`; false when `path` itself cannot be stat'ed.
inline bool corpus_files(const std::string &path, std::vector<std::string> &out) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return false;
    if (!S_ISDIR(st.st_mode)) {
        out.push_back(path);
        return true;
    }
    DIR *d = opendir(path.c_str());
    if (!d) return true;
    while (dirent *e = readdir(d))
        if (e->d_name[0] != '.') corpus_files(path + "/" + e->d_name, out);
    closedir(d);
    return true;
}
