// MLLP (Minimal Lower Layer Protocol) framing: cuts a TCP byte stream into HL7 messages, and
// wraps a message in a frame. No I/O: the connection code feeds it what it reads.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pacs::hl7 {

inline constexpr char kMllpStartBlock = '\x0b';  // VT
inline constexpr char kMllpEndBlock = '\x1c';    // FS
inline constexpr char kMllpTrailer = '\r';       // CR after FS

// A frame is VT, the message, FS, CR. Reads may hold half a frame or several; the framer keeps
// what it needs between feeds.
class MllpFramer {
 public:
  enum class State {
    Idle,       // between frames: bytes other than VT are discarded
    InMessage,  // after a VT, collecting the message
    Oversize,   // a message grew beyond the limit: everything is ignored from then on, and the
                // caller closes the connection without answering (the frame never completed)
  };

  explicit MllpFramer(std::size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  // Appends each message completed by `bytes` (without VT/FS/CR) to `complete_messages`. A VT
  // inside an unfinished message starts a new one (the sender gave up on the old one); the CR
  // after FS is consumed when present and not required; a frame without content gives "".
  void feed(std::string_view bytes, std::vector<std::string>& complete_messages);

  State state() const { return state_; }
  // Every byte received that is not part of a delivered frame: noise before VT, abandoned partial
  // messages (with their VT), and all bytes from an oversize message on.
  std::size_t discarded_bytes() const { return discarded_bytes_; }
  // The size of the unfinished message held so far.
  std::size_t buffered_bytes() const { return message_.size(); }

 private:
  std::size_t max_message_bytes_;
  State state_ = State::Idle;
  bool just_ended_ = false;  // the previous byte was the FS of a delivered frame
  std::string message_;
  std::size_t discarded_bytes_ = 0;
};

// VT + message + FS + CR.
std::string mllp_frame(std::string_view message);

}  // namespace pacs::hl7
