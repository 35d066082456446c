#include "trellis/checkpoint_store.hpp"

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <unordered_map>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trellis/errc.hpp"

namespace trellis {

checkpoint_store::~checkpoint_store() = default;

namespace {

// -- memory -------------------------------------------------------------------

class memory_store final : public checkpoint_store {
public:
  caf::error save(const std::string& key, const std::string& bytes) override {
    std::lock_guard<std::mutex> guard{mtx_};
    entries_[key] = bytes;
    return caf::none;
  }

  caf::expected<std::optional<std::string>>
  load(const std::string& key) override {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = entries_.find(key);
    if (i == entries_.end())
      return std::optional<std::string>{};
    return std::optional<std::string>{i->second};
  }

  caf::error erase(const std::string& key) override {
    std::lock_guard<std::mutex> guard{mtx_};
    entries_.erase(key);
    return caf::none;
  }

private:
  std::mutex mtx_;
  std::unordered_map<std::string, std::string> entries_;
};

// -- file ---------------------------------------------------------------------

// CRC-32 (IEEE 802.3, as zlib's): catches torn and flipped bytes.
uint32_t crc32(const char* data, size_t size) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      auto c = i;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i)
    c = table[(c ^ static_cast<uint8_t>(data[i])) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// File layout: magic, payload length (8 bytes), CRC-32 (4 bytes), both
// little endian, then the payload.
constexpr char magic[8] = {'T', 'R', 'C', 'K', 'P', 'T', '0', '1'};
constexpr size_t header_size = sizeof(magic) + 8 + 4;

void put_le(std::string& out, uint64_t x, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out.push_back(static_cast<char>((x >> (8 * i)) & 0xFF));
}

uint64_t get_le(const char* in, int bytes) {
  uint64_t x = 0;
  for (int i = 0; i < bytes; ++i)
    x |= uint64_t{static_cast<uint8_t>(in[i])} << (8 * i);
  return x;
}

caf::error io_error(const std::string& what, const std::string& file) {
  return make_error(errc::checkpoint_failed, what + " " + file,
                    std::string{std::strerror(errno)});
}

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    auto n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n == 0)
      errno = EIO;
    if (n <= 0)
      return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

class file_store final : public checkpoint_store {
public:
  explicit file_store(std::string dir) : dir_(std::move(dir)) {
    // A missing directory shows up as an error on the first save.
    std::error_code ignored;
    std::filesystem::create_directories(dir_, ignored);
    // Temporary files of saves that a crash interrupted.
    for (auto it = std::filesystem::directory_iterator(dir_, ignored);
         it != std::filesystem::directory_iterator(); it.increment(ignored)) {
      if (ignored)
        break;
      if (it->path().filename().string().find(".ckpt.tmp.")
          != std::string::npos)
        std::filesystem::remove(it->path(), ignored);
    }
  }

  caf::error save(const std::string& key, const std::string& bytes) override {
    auto file = file_of(key);
    // A name of its own per save: two incarnations (a hung one and its
    // replacement) may save at once; the last rename wins whole.
    auto tmp = file + ".tmp." + std::to_string(::getpid()) + "."
               + std::to_string(++tmp_counter_);
    std::string data{magic, sizeof(magic)};
    put_le(data, bytes.size(), 8);
    put_le(data, crc32(bytes.data(), bytes.size()), 4);
    data += bytes;
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                    0644);
    if (fd < 0)
      return io_error("cannot create", tmp);
    if (!write_all(fd, data.data(), data.size()) || ::fsync(fd) != 0) {
      auto err = io_error("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return err;
    }
    if (::close(fd) != 0) {
      auto err = io_error("cannot close", tmp);
      ::unlink(tmp.c_str());
      return err;
    }
    if (::rename(tmp.c_str(), file.c_str()) != 0) {
      auto err = io_error("cannot rename to", file);
      ::unlink(tmp.c_str());
      return err;
    }
    // The rename itself is durable only once the directory is.
    int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
      return io_error("cannot open directory", dir_);
    auto synced = ::fsync(dfd) == 0;
    ::close(dfd);
    if (!synced)
      return io_error("cannot fsync directory", dir_);
    return caf::none;
  }

  caf::expected<std::optional<std::string>>
  load(const std::string& key) override {
    auto file = file_of(key);
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT)
        return std::optional<std::string>{};
      return io_error("cannot open", file);
    }
    std::string data;
    char buf[65536];
    for (;;) {
      auto n = ::read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0) {
        auto err = io_error("cannot read", file);
        ::close(fd);
        return err;
      }
      if (n == 0)
        break;
      data.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    if (auto problem = check(data); !problem.empty()) {
      // Keep the evidence, out of the way of the next save and load, without
      // overwriting earlier evidence.
      auto aside = file + ".corrupt";
      for (int i = 1; ::access(aside.c_str(), F_OK) == 0; ++i)
        aside = file + ".corrupt." + std::to_string(i);
      ::rename(file.c_str(), aside.c_str());
      return make_error(errc::corrupt_checkpoint, file, problem);
    }
    return std::optional<std::string>{data.substr(header_size)};
  }

  caf::error erase(const std::string& key) override {
    auto file = file_of(key);
    if (::unlink(file.c_str()) != 0 && errno != ENOENT)
      return io_error("cannot remove", file);
    return caf::none;
  }

private:
  // Returns what is wrong with a file's contents, or nothing.
  static std::string check(const std::string& data) {
    if (data.size() < header_size
        || std::memcmp(data.data(), magic, sizeof(magic)) != 0)
      return "not a checkpoint file (bad header)";
    auto len = get_le(data.data() + sizeof(magic), 8);
    auto sum = static_cast<uint32_t>(get_le(data.data() + sizeof(magic) + 8,
                                            4));
    if (len != data.size() - header_size)
      return "torn: the header announces " + std::to_string(len)
             + " bytes, the file holds "
             + std::to_string(data.size() - header_size);
    if (crc32(data.data() + header_size, len) != sum)
      return "checksum mismatch";
    return {};
  }

  // Keys are paths such as `root/db/writer`: one flat file each, with every
  // byte outside [A-Za-z0-9_.-] escaped as %XX.
  std::string file_of(const std::string& key) const {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string name;
    for (auto ch : key) {
      auto c = static_cast<unsigned char>(ch);
      auto plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                   || (c >= '0' && c <= '9') || c == '_' || c == '-'
                   || (c == '.' && !name.empty());
      if (plain)
        name.push_back(ch);
      else {
        name.push_back('%');
        name.push_back(hex[c >> 4]);
        name.push_back(hex[c & 0xF]);
      }
    }
    return dir_ + "/" + name + ".ckpt";
  }

  std::string dir_;
  std::atomic<uint64_t> tmp_counter_{0};
};

} // namespace

std::shared_ptr<checkpoint_store> make_memory_checkpoint_store() {
  return std::make_shared<memory_store>();
}

std::shared_ptr<checkpoint_store>
make_file_checkpoint_store(std::string directory) {
  return std::make_shared<file_store>(std::move(directory));
}

} // namespace trellis
