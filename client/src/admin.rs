//! The `Admin` service's calls (load, unload, pin, watch local models,
//! reload the configuration), on
//! the same connection and with the same deadline as the `Router` calls.

use futures::{Stream, TryStreamExt};

use crate::client::Client;
use crate::error::ClientError;
use crate::proto::{
    LoadModelRequest, LoadModelResponse, ModelEvent, PinModelRequest, PinModelResponse,
    ReloadConfigRequest, ReloadConfigResponse, UnloadModelRequest, UnloadModelResponse,
    WatchModelsRequest,
};

impl Client {
    /// Starts a local model now and waits until it is ready; with `pin` it
    /// is never evicted until unpinned or unloaded.
    pub async fn load_model(
        &self,
        model: impl Into<String>,
        pin: bool,
    ) -> Result<LoadModelResponse, ClientError> {
        let req = LoadModelRequest {
            model: model.into(),
            pin,
        };
        let resp = self
            .admin
            .clone()
            .load_model(self.request(req))
            .await
            .map_err(ClientError::from_call)?;
        Ok(resp.into_inner())
    }

    /// Stops a local model: after its calls finish, or at once with `force`
    /// (its calls then fail with UNAVAILABLE naming the unload).
    pub async fn unload_model(
        &self,
        model: impl Into<String>,
        force: bool,
    ) -> Result<UnloadModelResponse, ClientError> {
        let req = UnloadModelRequest {
            model: model.into(),
            force,
        };
        let resp = self
            .admin
            .clone()
            .unload_model(self.request(req))
            .await
            .map_err(ClientError::from_call)?;
        Ok(resp.into_inner())
    }

    /// Pins (`true`) or unpins a local model without starting or stopping it.
    pub async fn pin_model(
        &self,
        model: impl Into<String>,
        pinned: bool,
    ) -> Result<PinModelResponse, ClientError> {
        let req = PinModelRequest {
            model: model.into(),
            pinned,
        };
        let resp = self
            .admin
            .clone()
            .pin_model(self.request(req))
            .await
            .map_err(ClientError::from_call)?;
        Ok(resp.into_inner())
    }

    /// Makes the router read its configuration again and rescan its models
    /// directories (as SIGHUP does); answers with what changed. A
    /// configuration that does not validate fails with FAILED_PRECONDITION
    /// and the running one keeps serving.
    pub async fn reload_config(&self) -> Result<ReloadConfigResponse, ClientError> {
        let resp = self
            .admin
            .clone()
            .reload_config(self.request(ReloadConfigRequest {}))
            .await
            .map_err(ClientError::from_call)?;
        Ok(resp.into_inner())
    }

    /// The pool's state changes as they happen, after one `CURRENT` event
    /// per model.
    pub async fn watch_models(
        &self,
    ) -> Result<
        impl Stream<Item = Result<ModelEvent, ClientError>> + Send + Unpin + 'static,
        ClientError,
    > {
        let resp = self
            .admin
            .clone()
            .watch_models(self.request(WatchModelsRequest {}))
            .await
            .map_err(ClientError::from_call)?;
        Ok(resp.into_inner().map_err(ClientError::from_call))
    }
}
