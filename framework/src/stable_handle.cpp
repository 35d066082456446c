#include "trellis/stable_handle.hpp"

#include <deque>

#include <caf/all.hpp>

#include "trellis/atoms.hpp"
#include "trellis/errc.hpp"
#include "trellis/lifecycle_event.hpp"
#include "trellis/supervisor.hpp"

namespace trellis {

namespace {

struct buffered {
  caf::strong_actor_ptr sender;
  caf::message_id mid;
  caf::message content;
};

struct proxy_state {
  caf::actor root;
  std::string path;
  size_t bound = 0;
  caf::actor target;
  bool gone = false;
  std::deque<buffered> buffer;
  static inline const char* name = "trellis.stable_handle";
};

using proxy_actor = caf::stateful_actor<proxy_state>;

/// Answers a message the proxy cannot pass on: the request's error, or an
/// error message to the sender of a plain message.
void refuse(proxy_actor* self, const caf::strong_actor_ptr& sender,
            caf::message_id mid, caf::error err) {
  if (!sender)
    return;
  if (mid.is_request())
    sender->enqueue(self->ctrl(), mid.response_id(),
                    caf::make_message(std::move(err)), self->context());
  else
    sender->enqueue(self->ctrl(), caf::make_message_id(),
                    caf::make_message(std::move(err)), self->context());
}

caf::error gone_error(proxy_actor* self) {
  return make_error(errc::not_found, self->state.path,
                    "the child is gone for good");
}

void flush(proxy_actor* self) {
  auto& st = self->state;
  while (st.target && !st.buffer.empty()) {
    auto& x = st.buffer.front();
    st.target->enqueue(std::move(x.sender), x.mid, std::move(x.content),
                       self->context());
    st.buffer.pop_front();
  }
}

void give_up(proxy_actor* self) {
  auto& st = self->state;
  st.gone = true;
  st.target = nullptr;
  for (auto& x : st.buffer)
    refuse(self, x.sender, x.mid, gone_error(self));
  st.buffer.clear();
}

/// Finds the child's current actor: forwards to it, keeps buffering while
/// it restarts, gives up when it is gone for good.
void relocate(proxy_actor* self) {
  self->request(self->state.root, caf::infinite, lookup_atom::value,
                self->state.path)
    .then(
      [self](caf::actor& hdl) {
        self->state.target = std::move(hdl);
        flush(self);
      },
      [self](caf::error& err) {
        if (!is(err, errc::restarting))
          give_up(self);
      });
}

caf::behavior proxy(proxy_actor* self, caf::actor root, std::string path,
                    size_t bound, caf::actor target, caf::group events) {
  auto& st = self->state;
  st.root = std::move(root);
  st.path = std::move(path);
  st.bound = bound;
  st.target = std::move(target);
  self->join(events);
  // The handle is of no use once the tree is gone.
  self->monitor(st.root);
  self->set_down_handler([self](caf::down_msg& msg) {
    if (msg.source == self->state.root) {
      give_up(self);
      self->quit(msg.reason);
    }
  });
  self->set_default_handler(
    [self](caf::scheduled_actor*,
           caf::message_view& x) -> caf::result<caf::message> {
      auto& ps = self->state;
      if (ps.gone)
        return gone_error(self);
      if (ps.target) {
        self->delegate(ps.target, x.move_content_to_message());
        return caf::delegated<caf::message>{};
      }
      auto sender = self->current_sender();
      auto mid = self->take_current_message_id();
      if (ps.buffer.size() >= ps.bound) {
        refuse(self, sender, mid,
               make_error(errc::overloaded, ps.path,
                          "the child is down and " + std::to_string(ps.bound)
                            + " messages wait for it"));
        return caf::delegated<caf::message>{};
      }
      ps.buffer.push_back(buffered{std::move(sender), mid,
                                   x.move_content_to_message()});
      return caf::delegated<caf::message>{};
    });
  return {
    [self](const lifecycle_event& ev) {
      auto& ps = self->state;
      if (ps.gone || ev.path != ps.path)
        return;
      switch (ev.kind) {
        case lifecycle_kind::child_exited:
          ps.target = nullptr;
          relocate(self);
          break;
        case lifecycle_kind::child_started:
        case lifecycle_kind::child_restarted:
          relocate(self);
          break;
        default:
          break;
      }
    },
    [self](caf::get_atom, stable_handle_atom) {
      return caf::make_message(static_cast<bool>(self->state.target),
                               static_cast<uint64_t>(
                                 self->state.buffer.size()));
    },
  };
}

} // namespace

caf::expected<caf::actor> stable_handle(caf::actor_system& sys,
                                        const caf::actor& root,
                                        const std::string& path,
                                        size_t buffer) {
  auto events = lifecycle_events(sys, root);
  if (!events)
    return events.error();
  caf::actor target;
  auto hdl = lookup(sys, root, path);
  if (hdl)
    target = *hdl;
  else if (!is(hdl.error(), errc::restarting))
    return hdl.error();
  return sys.spawn(proxy, root, path, buffer, std::move(target),
                   std::move(*events));
}

} // namespace trellis
