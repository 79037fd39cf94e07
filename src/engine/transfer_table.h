// The transfers of one connection (driver thread only): ours (send, write, read: by our id),
// theirs (recv, served write and read: by the peer's id), recv()s waiting for the peer's Send,
// and the peer's Send offers waiting for a recv(). Owns every Transfer; a Transfer* handed out
// stays valid until erase().
#pragma once

#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include "control/control_wire.h"
#include "engine/transfer.h"

namespace tcpxp::engine {

class TransferTable {
 public:
  // A Send (or SendInline, with its bytes) waiting for a recv().
  struct Offer {
    control::Send send;
    bool has_data = false;
    std::vector<uint8_t> data;
  };

  static std::unique_ptr<Transfer> make(XferId id, uint64_t api, XferKind kind, RegRef reg,
                                        char* ptr, size_t size);
  // A transfer this side starts, under a new id.
  Transfer* addMine(uint64_t api, XferKind kind, RegRef reg, char* ptr, size_t size);
  // A transfer the peer started; the caller checked that `x->id` is not in use.
  Transfer* addTheirs(std::unique_ptr<Transfer> x);
  Transfer* findMine(XferId id) const { return find(mine_, id); }
  Transfer* findTheirs(XferId id) const { return find(theirs_, id); }
  // Frees the transfer (its registration reference with it).
  void erase(Transfer* x);
  bool empty() const { return mine_.empty() && theirs_.empty(); }
  bool hasMine() const { return !mine_.empty(); }
  size_t theirsCount() const { return theirs_.size(); }
  // Ends every transfer: `end(x)` is called for each, then it is erased. Waiting recv()s are
  // handed over through `end_recv` (they were never in the maps), offers dropped.
  template <typename End, typename EndRecv>
  void drain(End&& end, EndRecv&& end_recv) {
    for (auto* map : {&mine_, &theirs_}) {
      while (!map->empty()) {
        Transfer* x = map->begin()->second.get();
        end(x);
        map->erase(map->begin());
      }
    }
    for (auto& x : posted_recvs) end_recv(*x);
    posted_recvs.clear();
    offers.clear();
  }

  std::deque<std::unique_ptr<Transfer>> posted_recvs;  // recv() waiting for a Send, in order
  std::deque<Offer> offers;                            // Sends waiting for a recv(), in order

 private:
  using Map = std::unordered_map<XferId, std::unique_ptr<Transfer>>;
  static Transfer* find(const Map& map, XferId id) {
    auto it = map.find(id);
    return it == map.end() ? nullptr : it->second.get();
  }
  XferId next_id_ = 1;
  Map mine_;    // send, write, read
  Map theirs_;  // recv, serve write/read
};

}  // namespace tcpxp::engine
