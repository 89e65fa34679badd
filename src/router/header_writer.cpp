#include "header_writer.hpp"

#include <array>
#include <cstring>

namespace runway::router {

namespace http = boost::beast::http;

namespace {

void appendVersion(HeadBuffer& out, unsigned version) {
  const std::array<char, 8> text{'H', 'T', 'T', 'P', '/', static_cast<char>('0' + version / 10 % 10),
                                 '.', static_cast<char>('0' + version % 10)};
  out.append(text.data(), text.size());
}

// The fields are measured first and copied into the buffer grown once: four appends a field,
// each checking the capacity, cost twice as much.
void appendFields(HeadBuffer& out, const Fields& fields) {
  const std::size_t at = out.size();
  std::size_t size = at + 2;
  for (const auto& f : fields) size += f.name_string().size() + f.value().size() + 4;
  out.resize(size);
  char* p = out.data() + at;
  for (const auto& f : fields) {
    const auto name = f.name_string();
    const auto value = f.value();
    std::memcpy(p, name.data(), name.size());
    p += name.size();
    *p++ = ':';
    *p++ = ' ';
    std::memcpy(p, value.data(), value.size());
    p += value.size();
    *p++ = '\r';
    *p++ = '\n';
  }
  p[0] = '\r';
  p[1] = '\n';
}

}  // namespace

void appendHeader(HeadBuffer& out, const http::request_header<Fields>& h) {
  out.append(h.method_string());
  out.push_back(' ');
  out.append(h.target());
  out.push_back(' ');
  appendVersion(out, h.version());
  out.append("\r\n");
  appendFields(out, h);
}

void appendHeader(HeadBuffer& out, const http::response_header<Fields>& h) {
  appendVersion(out, h.version());
  const unsigned code = h.result_int();
  const std::array<char, 5> status{' ', static_cast<char>('0' + code / 100 % 10),
                                   static_cast<char>('0' + code / 10 % 10),
                                   static_cast<char>('0' + code % 10), ' '};
  out.append(status.data(), status.size());
  out.append(h.reason());
  out.append("\r\n");
  appendFields(out, h);
}

}  // namespace runway::router
